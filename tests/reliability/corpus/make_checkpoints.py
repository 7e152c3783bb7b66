"""Writes the bad checkpoint files of the corpus (run once; the files are committed): python make_checkpoints.py"""
import io
import os

import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")


class Payload:
    """Would print when unpickled by a loader that runs code; weights_only and the converter must not."""

    def __reduce__(self):
        return (print, ("PAYLOAD-RAN",))


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def main() -> None:
    os.makedirs(HERE, exist_ok=True)
    weights = {"backbone.weight": torch.ones(4, 3), "box_head.bias": torch.zeros(4)}
    files = {
        "empty.pth.tar": b"",
        "truncated.pth.tar": saved({"net": weights})[:600],
        "text.pth.tar": b"this is not a checkpoint\n",
        "random_bytes.pth.tar": bytes((i * 97 + 13) % 256 for i in range(700)),
        "pickled_code.pth.tar": saved({"net": weights, "settings": Payload()}),
        "list.pth.tar": saved([1, 2, 3]),
        "no_weights.pth.tar": saved({"epoch": 3, "stats": {"loss": 1.0}}),
        "non_tensor_weights.pth.tar": saved({"net": {"backbone.weight": 1.0, "box_head.bias": "x"}}),
        "other_model.pth.tar": saved({"net": {"unrelated.weight": torch.zeros(2, 2)}}),
        "weights_only.pth.tar": saved({"net": weights}),
    }
    for name, data in files.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
