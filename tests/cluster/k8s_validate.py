#!/usr/bin/python3
"""Offline check of the Kubernetes manifests in ops/k8s (issue #18); no cluster is needed.

1. Schema: every document is deserialised into its Kubernetes model class with Debian's
   python3-kubernetes (22.6: the Kubernetes 1.22 object schemas), which refuses missing required
   fields; a walk over the models' openapi_types/attribute_map refuses unknown fields and wrong JSON
   types (a string where an integer belongs, ...).
2. Stride's own rules: the ConfigMap's job.yaml passes `stride config check`; rollout replicas equal
   rollout.workers; every role registers at the scheduler Service's port; the Services select pods
   that exist; Prometheus scrape annotations name a declared container port; the trainer and the
   rollout workers request GPUs; the buffer and the trainer keep their data on PersistentVolumeClaims.

Usage: k8s_validate.py STRIDE_BIN SOURCE_DIR [MANIFEST_DIR]   (0: valid; 1: problems, one per line)
       k8s_validate.py --self-test                           (the checker refuses broken documents)
"""
import datetime
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml
from kubernetes import client

KINDS = {  # (apiVersion, kind) -> model class
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Service"): "V1Service",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
}
PRIMITIVES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "object": (object,),
              "datetime": (str, datetime.datetime), "date": (str, datetime.date)}


def walk(value, type_name, path, problems):
    """Unknown fields and wrong JSON types of `value` against the model type `type_name`."""
    if value is None:
        return
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            walk(v, m.group(1), f"{path}[{i}]", problems)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            walk(v, m.group(1), f"{path}.{k}", problems)
        return
    if type_name in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[type_name]) and not (type_name == "int" and isinstance(value, bool))
        if not ok:
            problems.append(f"{path}: expected {type_name}, got {type(value).__name__} {value!r}")
        return
    model = getattr(client, type_name)
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object ({type_name}), got {type(value).__name__}")
        return
    by_json = {j: attr for attr, j in model.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            problems.append(f"{path}.{key}: unknown field of {type_name}")
            continue
        walk(v, model.openapi_types[by_json[key]], f"{path}.{key}", problems)


class _Response:
    def __init__(self, doc):
        self.data = json.dumps(doc)


def check_schema(doc, where):
    """Problems of one document against the Kubernetes schema."""
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key not in KINDS:
        return [f"{where}: no schema here for apiVersion {key[0]} kind {key[1]}"]
    problems = []
    walk(doc, KINDS[key], where, problems)
    try:  # required fields and enum values, by the models' own setters
        client.ApiClient().deserialize(_Response(doc), KINDS[key])
    except (ValueError, TypeError) as e:
        problems.append(f"{where}: {e}")
    return problems


def load(manifest_dir):
    docs = []
    for f in sorted(pathlib.Path(manifest_dir).glob("*.yaml")):
        for i, d in enumerate(yaml.safe_load_all(f.read_text())):
            if d is not None:
                docs.append((f"{f.name}#{i}", d))
    return docs


def pod_specs(docs):
    """(where, workload, pod template) of every Deployment and StatefulSet."""
    return [(w, d, d["spec"]["template"]) for w, d in docs if d["kind"] in ("Deployment", "StatefulSet")]


def command_text(container):
    return " ".join(container.get("command", []) + container.get("args", []))


def check_key_mount(where, tpl, container, keys_dir):
    """The job's key set: a Secret volume mounted at network.keys_dir, its files owner-only (Stride
    refuses key files that group or others may read)."""
    if not keys_dir:
        return []
    mounts = [m for m in container.get("volumeMounts", []) if m.get("mountPath") == keys_dir]
    if not mounts:
        return [f"{where}: must mount the key set (a Secret) at network.keys_dir {keys_dir}"]
    volumes = {v["name"]: v for v in tpl["spec"].get("volumes", [])}
    secret = volumes.get(mounts[0]["name"], {}).get("secret")
    if secret is None:
        return [f"{where}: the volume at {keys_dir} must be a Secret (the output of `stride keys gen`)"]
    mode = secret.get("defaultMode", 0o644)  # Kubernetes' default: readable by everyone
    if mode & 0o077:
        return [f"{where}: the key Secret's defaultMode {mode:#o} lets group or others read the keys (use 0400)"]
    return []


def check_stride(docs, stride_bin, source_dir):
    problems = []
    cms = [d for _, d in docs if d["kind"] == "ConfigMap" and "job.yaml" in d.get("data", {})]
    if len(cms) != 1:
        return ["exactly one ConfigMap must hold job.yaml"]
    job_text = cms[0]["data"]["job.yaml"]
    job = yaml.safe_load(job_text)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(job_text)
        f.flush()
        tok = f"tokenizer={source_dir}/configs/tokenizers/arith/tokenizer.json"  # /opt/stride in the image
        overrides = [tok]
        keys = tempfile.TemporaryDirectory()
        if job.get("network", {}).get("keys_dir"):  # the Secret's files, made here as the README says
            subprocess.run([stride_bin, "keys", "gen", f"{keys.name}/k"], capture_output=True, check=True)
            overrides.append(f"network.keys_dir={keys.name}/k")
        r = subprocess.run([stride_bin, "config", "check", f.name] + overrides, capture_output=True, text=True)
        keys.cleanup()
        if r.returncode != 0:
            problems.append(f"job.yaml: stride config check: {r.stderr.strip()}")
    workers = job.get("rollout", {}).get("workers", 1)
    net = job.get("network", {})
    keys_dir = net.get("keys_dir", "")
    if net.get("auth") != "curve" or not keys_dir:
        problems.append("job.yaml: network.auth must be curve with a network.keys_dir (the key set's Secret)")
    if net.get("unauthenticated"):
        problems.append("job.yaml: network.unauthenticated must not be set: every socket uses CURVE")
    sched_svc = [d for _, d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "stride-scheduler"]
    if not sched_svc:
        return problems + ["no Service stride-scheduler"]
    port = sched_svc[0]["spec"]["ports"][0]["port"]
    roles = set()
    for where, w, tpl in pod_specs(docs):
        labels = tpl["metadata"].get("labels", {})
        role = labels.get("app.kubernetes.io/component", "")
        roles.add(role)
        c = tpl["spec"]["containers"][0]
        cmd = command_text(c)
        if f"stride role {role}" not in cmd and not re.search(rf"stride role {role}\b", cmd):
            problems.append(f"{where}: the container does not run `stride role {role}`")
        want = f"tcp://0.0.0.0:{port}" if role == "scheduler" else f"tcp://stride-scheduler:{port}"
        if want not in cmd:
            problems.append(f"{where}: {role} should use --scheduler {want}")
        ann = tpl["metadata"].get("annotations", {})
        ports = {p["containerPort"] for p in c.get("ports", [])}
        if ann.get("prometheus.io/scrape") != "true" or int(ann.get("prometheus.io/port", 0)) not in ports:
            problems.append(f"{where}: prometheus.io/scrape and a prometheus.io/port among the container ports")
        problems += check_key_mount(where, tpl, c, keys_dir)
        gpus = c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
        if role in ("trainer", "rollout") and not gpus:
            problems.append(f"{where}: {role} must request nvidia.com/gpu")
        if role in ("buffer", "trainer"):
            claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            if not claims & mounts:
                problems.append(f"{where}: {role} must keep its data on a PersistentVolumeClaim")
        if role == "rollout" and w["spec"].get("replicas") != workers:
            problems.append(f"{where}: replicas {w['spec'].get('replicas')} != rollout.workers {workers}")
    for r in ("scheduler", "buffer", "trainer", "rollout"):
        if r not in roles:
            problems.append(f"no workload runs role {r}")
    templates = [tpl["metadata"].get("labels", {}) for _, _, tpl in pod_specs(docs)]
    for where, d in docs:
        if d["kind"] == "Service":
            sel = d["spec"].get("selector", {})
            if not any(all(t.get(k) == v for k, v in sel.items()) for t in templates):
                problems.append(f"{where}: Service {d['metadata']['name']} selects no pod template")
    return problems


def self_test():
    good = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    assert check_schema(good, "good") == [], check_schema(good, "good")
    unknown = json.loads(json.dumps(good))
    unknown["spec"]["portz"] = []
    assert any("portz: unknown field" in p for p in check_schema(unknown, "u")), check_schema(unknown, "u")
    wrong_type = json.loads(json.dumps(good))
    wrong_type["spec"]["ports"][0]["port"] = "80"
    assert any("expected int" in p for p in check_schema(wrong_type, "w")), check_schema(wrong_type, "w")
    no_image = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"selector": {}, "template": {"spec": {"containers": [{"image": "x"}]}}}}
    assert any("name" in p for p in check_schema(no_image, "n")), check_schema(no_image, "n")
    unknown_kind = {"apiVersion": "v1", "kind": "Sevrice"}
    assert check_schema(unknown_kind, "k"), "an unknown kind must be refused"
    print("k8s_validate self-test: ok")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    stride_bin, source_dir = sys.argv[1], sys.argv[2]
    manifest_dir = sys.argv[3] if len(sys.argv) > 3 else f"{source_dir}/ops/k8s"
    docs = load(manifest_dir)
    problems = [p for where, d in docs for p in check_schema(d, where)]
    if not problems:
        problems = check_stride(docs, stride_bin, source_dir)
    for p in problems:
        print(p)
    print(f"k8s_validate: {len(docs)} documents, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
