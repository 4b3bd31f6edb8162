"""Autocast helpers that also work on devices autocast does not know (``meta``, used by the FLOP counter).

:func:`autocast_active` says whether a caller's ``torch.autocast`` is on for a device type;
:func:`fp32_region` is the context that turns it off (a region computed in fp32), and does nothing on a
device type without autocast support (``torch.autocast`` raises there).
"""

from __future__ import annotations

import contextlib

import torch

AUTOCAST_DEVICES = ("cpu", "cuda")


def autocast_active(device_type: str) -> bool:
    return device_type in AUTOCAST_DEVICES and torch.is_autocast_enabled(device_type)


def fp32_region(device_type: str) -> contextlib.AbstractContextManager[object]:
    if device_type not in AUTOCAST_DEVICES:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)
