"""Errors the suite reports to users as one line."""


class KerasUnavailable(RuntimeError):
    """The installed TensorFlow/Keras cannot be tested; the message says what to do."""
