"""The deployment files are valid before anyone applies them: the Kubernetes manifests
against the API's schemas (offline, kubernetes-validate), every YAML file through yamllint,
the Dockerfile through hadolint; and the autoscaler scales on a metric the worker exports.
Seconds, no cluster and no Docker: they run with the rest of the suite (`-m manifests`
alone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes

from tests.test_monitoring_names import exported, metric_names

pytestmark = pytest.mark.manifests

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
# The oldest Kubernetes the manifests are meant for (autoscaling/v2, policy/v1).
KUBERNETES_VERSION = "1.29"


def resources() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [
        (name, document)
        for name in kustomization["resources"]
        for document in yaml.safe_load_all((K8S / name).read_text())
        if document
    ]


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_manifests_match_the_kubernetes_schemas() -> None:
    kinds = set()
    for name, document in resources():
        try:
            kubernetes.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes.ValidationError as exc:
            pytest.fail(f"{name} {document['kind']}: {exc.message} at {list(exc.path)}")
        kinds.add((document["kind"], document["metadata"]["name"]))
    assert {
        ("HorizontalPodAutoscaler", "flowdesk-api"),
        ("HorizontalPodAutoscaler", "flowdesk-worker"),
        ("PodDisruptionBudget", "flowdesk-api"),
        ("PodDisruptionBudget", "flowdesk-worker"),
        ("Ingress", "flowdesk-api"),
    } <= kinds


def test_an_invalid_manifest_is_caught() -> None:
    hpa = next(d for _, d in resources() if d["kind"] == "HorizontalPodAutoscaler")
    broken = {**hpa, "spec": {**hpa["spec"], "maxReplicas": "many"}}
    with pytest.raises(kubernetes.ValidationError):
        kubernetes.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_worker_scales_on_the_backlog_it_exports() -> None:
    [hpa] = [
        d
        for _, d in resources()
        if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "flowdesk-worker"
    ]
    external = [m["external"]["metric"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    assert {m["name"] for m in external} == {"flowdesk_task_queue_backlog"}
    assert {m["selector"]["matchLabels"]["type"] for m in external} == {"workflow", "activity"}
    names = exported()
    assert {m["name"] for m in external} <= names
    adapter = yaml.safe_load((DEPLOY / "prometheus" / "adapter-rules.yml").read_text())
    [rule] = adapter["externalRules"]
    assert metric_names(rule["seriesQuery"]) <= names
    assert rule["name"]["as"] == "flowdesk_task_queue_backlog"
    # The port the worker serves its metrics on is the one Prometheus is told to scrape.
    config = yaml.safe_load((K8S / "configmap.yaml").read_text())["data"]
    [worker] = [
        d
        for _, d in resources()
        if d["metadata"]["name"] == "flowdesk-worker" and d["kind"] == "Deployment"
    ]
    template = worker["spec"]["template"]
    [port] = template["spec"]["containers"][0]["ports"]
    assert str(port["containerPort"]) == config["FLOWDESK_WORKER_METRICS_PORT"]
    assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port["containerPort"])


def test_the_ingress_keeps_subscriptions_open_and_streams_events() -> None:
    [ingress] = [d for _, d in resources() if d["kind"] == "Ingress"]
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == ["/graphql"], "health and metrics stay inside the cluster"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_yamllint_passes_on_every_deployment_file() -> None:
    result = run(str(BIN / "yamllint"), "-c", str(DEPLOY / ".yamllint"), str(DEPLOY))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = run(str(BIN / "hadolint"), str(DEPLOY / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linters_refuse_what_they_should(tmp_path: Path) -> None:
    """Not silent no-ops: each one fails on a file that breaks its rules."""
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("key: [unclosed\n")
    assert run(str(BIN / "yamllint"), "-c", str(DEPLOY / ".yamllint"), str(bad_yaml)).returncode
    bad_docker = tmp_path / "Dockerfile"
    bad_docker.write_text("FROM python:latest\nRUN cd /tmp && apt-get install curl\n")
    assert run(str(BIN / "hadolint"), str(bad_docker)).returncode
