"""Draw a digit: a pad in the notebook where a person draws with the mouse (or a finger) and sees what a model says.

`DrawPad({"name": model, ...}).show()`. Every finished stroke shows the 28x28 image the model receives (the strokes
rasterized here, then `inference.to_mnist`, the same preprocessing as an image file), the 9 output probabilities, the
decoded digit and sum and the answer's confidence (`inference.answer_confidence`), and says so when the model does not
know. Built on ipycanvas: the canvas shows the strokes, the kernel keeps its own copy of them to read.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from ipycanvas import Canvas, hold_canvas
from IPython.display import display
from PIL import Image, ImageDraw

from ..digit_and_sum.encoding import answer_text
from ..digit_and_sum.inference import answers, to_mnist
from .explore import output_labels, plot_pair, png, probabilities
from .digit_and_sum import RIGHT, WRONG

SIZE, PEN = 280, 18  # canvas pixels; the pen is about MNIST's stroke width once the digit is scaled to 20 px
UNSURE = 0.5  # below this confidence the pad says the model does not know


class DrawPad:
    """A drawing pad with a number 0-9, a choice of model and a *clear* button; `state()` is what it shows."""

    def __init__(self, models: dict, number: int = 7):
        self.models = models
        self.canvas = Canvas(width=SIZE, height=SIZE, layout=widgets.Layout(width=f"{SIZE}px", height=f"{SIZE}px",
                                                                             border="1px solid #888"))
        self.canvas.add_class("draw-pad")
        self.number = widgets.ToggleButtons(options=list(range(10)), value=number, description="number",
                                            style={"button_width": "32px"})
        self.model = widgets.ToggleButtons(options=list(models), description="model")
        self.clear_button = widgets.Button(description="clear", icon="eraser")
        self.answer = widgets.HTML()
        self.picture = widgets.Image(format="png")
        for widget, name in ((self.number, "draw-number"), (self.model, "draw-model"), (self.clear_button, "draw-clear"),
                             (self.answer, "draw-answer")):
            widget.add_class(name)
        self.canvas.on_mouse_down(self.start)
        self.canvas.on_mouse_move(self.move)
        self.canvas.on_mouse_up(self.finish)
        self.canvas.on_mouse_out(self.finish)
        self.canvas.on_touch_start(lambda touches: self.start(*touches[0]))
        self.canvas.on_touch_move(lambda touches: self.move(*touches[0]))
        self.canvas.on_touch_end(lambda touches: self.finish(*touches[0]) if touches else self.finish())
        for control in (self.number, self.model):
            control.observe(lambda change: self.update(), "value")
        self.clear_button.on_click(lambda button: self.clear())
        self.panel = widgets.VBox([widgets.HBox([self.canvas, widgets.VBox([self.number, self.model, self.clear_button])]),
                                   self.answer, self.picture])
        self.clear()

    # ------------------------------------------------------------------------------------------- strokes

    def start(self, x: float, y: float) -> None:
        self.last = (x, y)
        self.line(x, y)

    def move(self, x: float, y: float) -> None:
        if self.last is not None:
            self.line(x, y)

    def finish(self, x: float | None = None, y: float | None = None) -> None:
        """A stroke ends (the button is released, the pointer leaves the pad): read the drawing anew."""
        if self.last is None:
            return
        if x is not None:
            self.line(x, y)
        self.last = None
        self.update()

    def line(self, x: float, y: float) -> None:
        """Draw from the last point to (x, y) on the canvas and on the kernel's copy of it."""
        (x0, y0), self.last = self.last, (x, y)
        with hold_canvas():
            self.canvas.stroke_line(x0, y0, x, y)
            self.canvas.fill_circle(x, y, PEN / 2)
        self.pen.line([(x0, y0), (x, y)], fill=0, width=PEN)
        self.pen.ellipse([x - PEN / 2, y - PEN / 2, x + PEN / 2, y + PEN / 2], fill=0)

    def clear(self) -> None:
        self.paper = Image.new("L", (SIZE, SIZE), 255)  # dark ink on white paper, as people draw
        self.pen, self.last = ImageDraw.Draw(self.paper), None
        with hold_canvas():
            self.canvas.clear()
            self.canvas.fill_style, self.canvas.stroke_style = "white", "black"
            self.canvas.fill_rect(0, 0, SIZE, SIZE)
            self.canvas.fill_style, self.canvas.line_width, self.canvas.line_cap = "black", PEN, "round"
        self.update()

    # --------------------------------------------------------------------------------------- the answer

    def state(self) -> dict:
        """What the pad shows: for a drawing, the image the model reads and its answer."""
        number, name = self.number.value, self.model.value
        try:
            pixels = to_mnist(np.asarray(self.paper))
        except ValueError:  # nothing drawn
            return {"blank": True, "number": number, "model": name}
        model = self.models[name]
        answer = answers(model, torch.from_numpy(pixels).float().div(255)[None, None], torch.tensor([number]))
        digit, total, confidence = (answer[k].item() for k in ("digits", "sums", "confidence"))
        return {"blank": False, "number": number, "model": name, "pixels": pixels, "digit": digit, "sum": total,
                "confidence": confidence, "probabilities": probabilities(model.encoding, answer["logits"][0]),
                "sure": confidence >= UNSURE}

    def describe(self, s: dict | None = None) -> str:
        """The answer (of `state()`, or of the state `s` already read) in one line of text."""
        s = s or self.state()
        if s["blank"]:
            return f"Draw a digit on the pad: the {s['model']} model adds {s['number']} to it."
        answer = (f"digit {answer_text(s['digit'], 9)}, sum {answer_text(s['sum'], 18)} "
                  f"({answer_text(s['digit'], 9)} + {s['number']} = {answer_text(s['sum'], 18)}), "
                  f"confidence {s['confidence']:.0%}")
        return answer if s["sure"] else f"The model does not know: its best guess is {answer}"

    def update(self) -> None:
        s = self.state()
        color = "#555" if s["blank"] else RIGHT if s["sure"] else WRONG
        self.answer.value = f"<span style='color:{color}; font-size: 1.2em'>{self.describe(s)}</span>"
        if s["blank"]:
            self.picture.value = b""
            return
        model = self.models[s["model"]]
        self.picture.value = png(plot_pair(s["pixels"], s["probabilities"], None, output_labels(model.encoding),
                                           "what the model sees, and its output probabilities", color))

    def show(self) -> None:
        """Display the pad, and its first state as text for a notebook read without a kernel."""
        display(self.panel)
        print("first state:", self.describe())


__all__ = ["DrawPad"]
