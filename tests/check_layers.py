#!/usr/bin/python3
"""The layering rules of ARCHITECTURE.md, checked on every #include and every CMake link line.

    python3 tests/check_layers.py [ROOT]      check the tree at ROOT (default: this repository)
    python3 tests/check_layers.py --self-test check that the checker catches each kind of violation

Floors, bottom to top:  proto  |  common  |  model  |  buffer, reward  |  job  |  rollout, trainer  |  scheduler
A folder may include its own files and those of lower floors, never a higher floor nor a sibling on
its own floor (rollout <-> trainer, buffer <-> reward). Three folders are stricter: model/ includes only
model/ and common/base/ (the engine builds alone), common/base/ includes only itself, and job/parquet/
(the Parquet reader) includes only itself and common/base/ (the fuzzer builds it alone). Each
folder's CMakeLists.txt links the stride_* libraries of the folders it includes, and no other
(buffer/ does not link the engine). Exit status 1 and one line per violation when a rule is broken.
"""
import os
import re
import sys
import tempfile

FLOOR = {"proto": 0, "common": 1, "model": 2, "buffer": 3, "reward": 3, "job": 4,
         "rollout": 5, "trainer": 5, "scheduler": 6}
# What a folder's own library is called in CMake, and which libraries provide an included folder.
LIBRARY = {"common": "stride_common", "proto": "stride_proto", "buffer": "stride_buffer",
           "reward": "stride_reward", "job": "stride_job", "rollout": "stride_rollout",
           "trainer": "stride_trainer", "scheduler": "stride_scheduler", "model": "stride_engine"}
SOURCE = re.compile(r"\.(h|cpp|cu|cuh)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


STRICT_SUBFOLDERS = ("common/base", "job/parquet")


def folder_of(path):
    """'common/base/x.h' -> 'common/base'; 'job/parquet/x.h' -> 'job/parquet'; 'trainer/x.h' -> 'trainer';
    None outside the layers."""
    parts = path.split("/")
    if len(parts) > 2 and "/".join(parts[:2]) in STRICT_SUBFOLDERS:
        return "/".join(parts[:2])
    return parts[0] if parts[0] in FLOOR else None


def allowed(src, dst):
    if src == dst:
        return True
    if src == "common/base":
        return False
    if src == "model" or src == "job/parquet":
        return dst == "common/base"
    if dst == "job/parquet":
        dst = "job"  # the rest of job/ and the floors above may use the reader
        if src == dst:
            return True
    if dst == "common/base":
        return True
    s, d = FLOOR[src], FLOOR[dst.split("/")[0]]
    return d < s


def include_violations(root):
    found = []
    for folder in FLOOR:
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in files:
                if not SOURCE.search(name):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                src = folder_of(rel)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    dst = folder_of(inc)
                    if dst and not allowed(src, dst):
                        found.append(f"{rel}: includes {inc} ({src} may not include {dst})")
    return found


def included_folders(root, folder):
    """Top-level layer folders the sources of `folder` (not common/base) include, besides itself."""
    out = set()
    for dirpath, _, files in os.walk(os.path.join(root, folder)):
        for name in files:
            if SOURCE.search(name):
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                    for inc in INCLUDE.findall(f.read()):
                        dst = folder_of(inc)
                        if dst and dst != "common/base" and dst.split("/")[0] != folder:
                            out.add(dst.split("/")[0])
    return out


def link_violations(root):
    found = []
    for folder in ("buffer", "reward", "job", "rollout", "trainer"):
        cmake = os.path.join(root, folder, "CMakeLists.txt")
        if not os.path.exists(cmake):
            continue
        with open(cmake) as f:
            text = re.sub(r"#.*", "", f.read())
        linked = set(re.findall(r"\bstride_[a-z_]+\b", text)) - {LIBRARY[folder], "stride_folder_library"}
        needed = {LIBRARY[d] for d in included_folders(root, folder)}
        for lib in sorted(needed - linked):
            found.append(f"{folder}/CMakeLists.txt: {folder}/ includes {lib[7:]}/ but does not link {lib}")
        for lib in sorted(linked - needed):
            found.append(f"{folder}/CMakeLists.txt: links {lib}, which no {folder}/ file includes")
    return found


def self_test():
    """Each rule, broken once in a scratch tree, must be reported; the clean tree must pass."""
    cases = {
        "rollout/a.cpp": '#include "trainer/b.h"\n',
        "trainer/a.cpp": '#include "rollout/b.h"\n',
        "trainer/c.cpp": '#include "scheduler/d.h"\n',
        "model/a.cpp": '#include "common/config.h"\n',
        "common/a.cpp": '#include "job/x.h"\n',
        "common/base/a.cpp": '#include "common/log.h"\n',
        "reward/a.cpp": '#include "buffer/b.h"\n',
        "proto/a.h": '#include "common/messaging.h"\n',
        "job/parquet/a.cpp": '#include "common/log.h"\n',
        "job/parquet/b.cpp": '#include "job/dataset.h"\n',
    }
    ok_files = {"scheduler/a.cpp": '#include "trainer/b.h"\n#include "rollout/c.h"\n',
                "model/b.cpp": '#include "common/base/error.h"\n#include "model/x.h"\n',
                "job/a.cpp": '#include "reward/reward.h"\n#include "model/x.h"\n',
                "job/b.cpp": '#include "job/parquet/parquet_reader.h"\n',
                "job/parquet/c.cpp": '#include "job/parquet/thrift_compact.h"\n#include "common/base/error.h"\n',
                "scheduler/b.cpp": '#include "job/parquet/parquet_reader.h"\n'}
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w") as f:
                f.write(text)
        for rel, text in ok_files.items():
            write(rel, text)
        if include_violations(tmp):
            print("self-test: a clean tree was reported:", include_violations(tmp))
            failures += 1
        for rel, text in cases.items():
            write(rel, text)
            hits = [v for v in include_violations(tmp) if v.startswith(rel + ":")]
            if not hits:
                print(f"self-test: {rel} ({text.strip()}) was not reported")
                failures += 1
            os.remove(os.path.join(tmp, rel))
        write("buffer/CMakeLists.txt", "stride_folder_library(stride_buffer stride_proto stride_engine)\n")
        write("buffer/a.cpp", '#include "common/messaging.h"\n')
        hits = link_violations(tmp)
        if not any("does not link stride_common" in h for h in hits) or \
           not any("links stride_engine" in h for h in hits):
            print("self-test: link rules not reported:", hits)
            failures += 1
    print("check_layers self-test:", "ok" if failures == 0 else f"{failures} failures")
    return 1 if failures else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = include_violations(root) + link_violations(root)
    for v in found:
        print(v)
    print(f"check_layers: {len(found)} violations")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
