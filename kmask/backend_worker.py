"""A Keras process on another backend, answering the cross-backend property's requests.

    KERAS_BACKEND=jax python -m kmask.backend_worker   # started by kmask.differential, not by hand

``KMASK_WORKER_FAULT=NAME`` injects the self-check fault NAME (selfchecks/faults.py or
selfchecks/loss_faults.py) into this process only, for the whole of its life: the self-check
that proves the cross-backend comparison can fail (selfchecks/test_differential_faults.py).

Requests and replies are pickled and length-prefixed on stdin/stdout: a request is the
arguments of :func:`kmask.differential.results_for`, a reply is ``("ok", results)`` or
``("error", one line)``. Anything Keras or TensorFlow print goes to stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import struct
import sys

HEADER = struct.Struct("<Q")


def send(stream, message) -> None:
    data = pickle.dumps(message)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream):
    """The next message on ``stream``, or None at its end."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def serve(requests, replies) -> None:
    from kmask.differential import results_for

    send(replies, ("ready", None))
    while (request := receive(requests)) is not None:
        try:
            reply = ("ok", results_for(*request))
        except Exception as exc:  # the requester turns it into its own assertion
            reply = ("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        send(replies, reply)


FAULT_FAMILIES = ("selfchecks.faults", "selfchecks.loss_faults")


def injected_fault():
    """The context of the fault ``KMASK_WORKER_FAULT`` names (none when it is unset)."""
    name = os.environ.get("KMASK_WORKER_FAULT")
    if not name:
        return contextlib.nullcontext()
    for family in FAULT_FAMILIES:
        faults = importlib.import_module(family).FAULTS
        if name in faults:
            return faults[name].inject()
    raise SystemExit(f"KMASK_WORKER_FAULT={name!r} names no fault of {', '.join(FAULT_FAMILIES)}")


if __name__ == "__main__":
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints from Keras or TensorFlow must not corrupt the protocol
    with injected_fault():
        serve(sys.stdin.buffer, protocol)
