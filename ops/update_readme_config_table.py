#!/usr/bin/python3
"""Replaces the config key table in README.md with the output of `stride config keys`.

Usage: ops/update_readme_config_table.py [path/to/stride]   (default: build/bin/stride)
tests/common/test_config_readme.cpp fails until the README table matches the code.
"""
import pathlib
import subprocess
import sys

HEADER = "| key | type | default | meaning |"

root = pathlib.Path(__file__).resolve().parent.parent
stride = sys.argv[1] if len(sys.argv) > 1 else str(root / "build/bin/stride")
table = subprocess.run([stride, "config", "keys"], check=True, capture_output=True, text=True).stdout.rstrip("\n")
readme = root / "README.md"
lines = readme.read_text().split("\n")
start = lines.index(HEADER)
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
lines[start:end] = table.split("\n")
readme.write_text("\n".join(lines))
print(f"README.md: config table replaced ({len(table.splitlines()) - 2} keys)")
