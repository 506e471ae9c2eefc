"""The MNIST-addition benchmark: two N-digit numbers as images in, their sum out, trained from sums alone."""
