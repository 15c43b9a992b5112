"""kmask: the harness behind the properties (Keras compatibility, model building, references)."""
