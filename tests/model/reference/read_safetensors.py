#!/usr/bin/python3
"""Reads safetensors files the way transformers' loader sees them, with plain Python + torch only.

Debian has no `safetensors` or `transformers` Python packages, so this parses the format by hand
(u64 LE header length, JSON header, data buffer) and builds each tensor with torch.frombuffer, which
is what safetensors.torch.load_file returns. It also asserts the conventions transformers relies on
(`__metadata__.format == "pt"`, 8-byte padded header, contiguous offsets) and exits non-zero otherwise.

Usage: /usr/bin/python3 read_safetensors.py FILE...
Prints one line per tensor, sorted by name:
    <name> <dtype> <shape as [d0,d1,..]> <sum as float64> <sum of x[i]*(i+1) as float64>
The positional sum catches transposed or shuffled data that a plain sum would miss.
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def read(path):
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    (n,) = struct.unpack("<Q", buf[:8])
    assert n % 8 == 0, f"{path}: header length {n} is not a multiple of 8"
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    assert meta is not None and meta.get("format") == "pt", f"{path}: __metadata__.format must be 'pt'"
    data = buf[8 + n:]
    end = 0
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        begin, stop = info["data_offsets"]
        assert begin == end, f"{path}: {name}: offsets not contiguous"
        end = stop
        dtype = DTYPES[info["dtype"]]
        shape = info["shape"]
        if stop > begin:
            t = torch.frombuffer(data, dtype=dtype, count=(stop - begin) // torch.empty((), dtype=dtype).element_size(),
                                 offset=begin)
        else:
            t = torch.empty(0, dtype=dtype)
        out[name] = (info["dtype"], t.reshape(shape))
    assert end == len(data), f"{path}: data buffer has {len(data) - end} trailing bytes"
    return out


def main():
    tensors = {}
    for path in sys.argv[1:]:
        for name, v in read(path).items():
            assert name not in tensors, f"{name} appears in two files"
            tensors[name] = v
    for name in sorted(tensors):
        dtype, t = tensors[name]
        x = t.double().flatten()
        pos = torch.arange(1, x.numel() + 1, dtype=torch.float64)
        shape = "[" + ",".join(str(d) for d in t.shape) + "]"
        print(f"{name} {dtype} {shape} {x.sum().item():.17g} {(x * pos).sum().item():.17g}")


if __name__ == "__main__":
    main()
