"""What the notebooks show: figures of each line of work, the explorer and the drawing pad."""
