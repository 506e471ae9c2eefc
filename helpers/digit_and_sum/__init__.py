"""The primary task: an MNIST image and a number 0-9 in, the digit and their sum out (9 bits, BCE)."""
