"""The Helm chart, through the real Helm engine that helm-sdkpy bundles (no helm binary here).

helm-sdkpy exposes lint but no template command, and its lint messages arrive without their text. So a
template's intent is checked by linting a copy of the chart with the values under test plus a probe
template that errors when a condition on the rendered manifests does not hold (an index out of range:
lint mode only logs `fail`): the Helm engine renders, and the lint reports an error exactly when the
condition is false. test_probe_reports_a_false_condition guards that mechanism.
"""

from __future__ import annotations

import asyncio
import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "cursor-exporter"
ERROR = 3  # helm's support.ErrorSev


def lint(chart: Path) -> list[dict]:
    try:
        import helm_sdkpy
        from helm_sdkpy.chart import Lint
    except ImportError:
        message = "helm-sdkpy not installed: pip install --ignore-requires-python helm-sdkpy"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)

    result = asyncio.run(Lint(helm_sdkpy.Configuration()).run(str(chart)))
    return [message for message in result["Messages"] if message["Severity"] >= ERROR]


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def chart_copy(tmp_path: Path, values: dict, probe: str | None = None) -> Path:
    copy = tmp_path / "cursor-exporter"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(CHART, copy)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    (copy / "values.yaml").write_text(yaml.safe_dump(merged(defaults, values)))
    if probe is not None:
        (copy / "templates" / "zz-probe.yaml").write_text(
            PROBE_HEADER + "{{- if not (" + probe + ") }}{{ index (list) 0 }}{{ end }}\n"
        )
    return copy


TEMPLATES = ("deployment", "service", "serviceaccount", "secret", "pvc", "servicemonitor", "prometheusrule")
TEMPLATES += ("dashboards", "networkpolicy")
# $render.<template>: each template's rendered text; $d, $pod, $c: the Deployment, its pod spec and container;
# $egress: the NetworkPolicy's egress ports as "port/protocol".
PROBE_HEADER = (
    "{{- $render := dict }}{{- range list " + " ".join(f'"{name}"' for name in TEMPLATES) + " }}"
    '{{- $_ := set $render . (include (print $.Template.BasePath "/" . ".yaml") $ | trim) }}{{- end }}\n'
    "{{- $d := fromYaml $render.deployment }}{{- $pod := $d.spec.template.spec }}"
    "{{- $c := index $pod.containers 0 }}\n"
    "{{- $egress := list }}{{- with (fromYaml $render.networkpolicy).spec }}{{- range .egress }}"
    '{{- range .ports }}{{- $egress = append $egress (print .port "/" .protocol) }}{{- end }}{{- end }}{{- end }}\n'
)


def holds(tmp_path: Path, probe: str, values: dict | None = None) -> bool:
    """Whether ``probe`` (a Go template condition over $render.<template>, the rendered text) holds."""
    return not lint(chart_copy(tmp_path, values or {}, probe))


def test_helm_lint_of_the_chart_has_no_errors():
    assert lint(CHART) == []


def test_helm_lint_rejects_more_than_one_replica(tmp_path):
    assert lint(chart_copy(tmp_path, {"replicaCount": 1})) == []
    errors = lint(chart_copy(tmp_path, {"replicaCount": 2}))
    assert "values.yaml" in [message["Path"] for message in errors]


def test_probe_reports_a_false_condition(tmp_path):
    assert holds(tmp_path, "true") and not holds(tmp_path, "false")


def test_service_monitor_is_absent_by_default_and_has_no_interval_when_enabled(tmp_path):
    assert holds(tmp_path, 'not (contains "ServiceMonitor" $render.servicemonitor)')
    enabled = {"serviceMonitor": {"enabled": True}}
    assert holds(tmp_path, 'contains "kind: ServiceMonitor" $render.servicemonitor', enabled)
    assert holds(
        tmp_path, 'not (hasKey (index (fromYaml $render.servicemonitor).spec.endpoints 0) "interval")', enabled
    )


def test_prometheus_rule_is_off_by_default_and_holds_every_rule_group_when_enabled(tmp_path):
    assert holds(tmp_path, 'not (contains "PrometheusRule" $render.prometheusrule)')
    groups = [
        group["name"]
        for path in sorted((ROOT / "deploy" / "prometheus").glob("*-rules.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    probe = " ".join(f'(contains "name: {name}" $render.prometheusrule)' for name in groups)
    assert holds(
        tmp_path,
        f'and {probe} (contains "alert: CursorBudget80Percent" $render.prometheusrule)',
        {"prometheusRule": {"enabled": True}},
    )


def test_deployment_is_one_hardened_pod_with_probes(tmp_path):
    probes = [
        "eq ($d.spec.replicas | int) 1",
        'eq $d.spec.strategy.type "Recreate"',
        "$pod.securityContext.runAsNonRoot",
        'eq $pod.securityContext.seccompProfile.type "RuntimeDefault"',
        "$c.securityContext.readOnlyRootFilesystem",
        "$c.securityContext.runAsNonRoot",
        "not $c.securityContext.allowPrivilegeEscalation",
        'eq (toJson $c.securityContext.capabilities.drop) "[\\"ALL\\"]"',
        'eq $c.securityContext.seccompProfile.type "RuntimeDefault"',
        'eq $c.livenessProbe.httpGet.path "/-/healthy"',
        'eq $c.readinessProbe.httpGet.path "/-/ready"',
        "and $c.resources.requests.memory $c.resources.limits.memory",
    ]
    for probe in probes:
        assert holds(tmp_path, probe), probe


def test_state_is_an_empty_dir_with_a_warning_unless_persistence_is_on(tmp_path):
    assert holds(tmp_path, 'and (contains "emptyDir" $render.deployment) (eq $render.pvc "")')
    persistent = {"persistence": {"enabled": True}}
    assert holds(
        tmp_path,
        'and (contains "claimName" $render.deployment) (contains "PersistentVolumeClaim" $render.pvc)',
        persistent,
    )
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    assert "if not .Values.persistence.enabled" in notes and "emptyDir" in notes


def test_api_key_is_a_mounted_file_from_the_chart_secret_or_an_existing_one(tmp_path):
    own = {"apiKey": {"value": "crsr_test"}}
    assert holds(
        tmp_path,
        'and (contains "CURSOR_API_KEY_FILE" $render.deployment) (contains "kind: Secret" $render.secret)',
        own,
    )
    existing = {"apiKey": {"existingSecret": "cursor-admin-key", "existingSecretKey": "key"}}
    probe = 'and (contains "secretName: cursor-admin-key" $render.deployment) (eq $render.secret "")'
    assert holds(tmp_path, probe, existing)
    assert holds(tmp_path, 'not (contains "CURSOR_API_KEY_FILE" $render.deployment)')


def test_organization_key_is_an_opt_in_mounted_file_with_its_id_from_an_existing_secret(tmp_path):
    org = {"organization": {"existingSecret": "cursor-org-key", "id": "org_abc123"}}
    probe = (
        'and (contains "CURSOR_ORG_API_KEY_FILE" $render.deployment) (contains "secretName: cursor-org-key" '
        '$render.deployment) (has "--org.id=org_abc123" $c.args)'
    )
    assert holds(tmp_path, probe, org)
    assert holds(tmp_path, 'not (contains "CURSOR_ORG_API_KEY" $render.deployment)')
    # A Secret without the id the exporter needs is refused at render time, not at the pod's start.
    assert lint(chart_copy(tmp_path, {"organization": {"existingSecret": "cursor-org-key"}}))


def test_network_policy_is_opt_in_and_allows_egress_to_443_and_dns_only(tmp_path):
    assert holds(tmp_path, 'eq $render.networkpolicy ""')
    only = 'eq (toJson $egress) "[\\"443/TCP\\",\\"53/UDP\\",\\"53/TCP\\"]"'
    assert holds(tmp_path, only, {"networkPolicy": {"enabled": True}})


def test_dashboards_are_config_maps_for_the_grafana_sidecar(tmp_path):
    names = sorted(path.name for path in (ROOT / "deploy" / "grafana").glob("*.json"))
    probe = " ".join(f'(contains "{name}: |-" $render.dashboards)' for name in names)
    assert holds(tmp_path, f'and {probe} (contains "grafana_dashboard: \\"1\\"" $render.dashboards)')


@pytest.mark.parametrize("folder", ["prometheus", "dashboards"])
def test_chart_files_equal_the_deploy_sources(folder):
    source = ROOT / "deploy" / ("prometheus" if folder == "prometheus" else "grafana")
    pattern = "*-rules.yml" if folder == "prometheus" else "*.json"
    names = sorted(path.name for path in source.glob(pattern))
    copy = CHART / "files" / folder
    assert sorted(path.name for path in copy.iterdir()) == names
    _, mismatch, errors = filecmp.cmpfiles(source, copy, names, shallow=False)
    assert (mismatch, errors) == ([], []), f"copy deploy/{source.name} into {copy.relative_to(ROOT)}"


def check_jsonschema(values: Path) -> subprocess.CompletedProcess:
    binary = Path(sys.executable).parent / "check-jsonschema"
    command = [binary] if binary.exists() else [sys.executable, "-m", "check_jsonschema"]
    return subprocess.run(
        [*command, "--schemafile", CHART / "values.schema.json", values], capture_output=True, text=True
    )


def test_default_values_satisfy_the_schema():
    result = check_jsonschema(CHART / "values.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "override",
    [
        {"replicaCount": 2},
        {"securityContext": {"readOnlyRootFilesystem": False}},
        {"podSecurityContext": {"runAsNonRoot": False}},
        {"serviceMonitor": {"interval": "30s"}},
        {"extraArgs": ["serve"]},
    ],
    ids=["two-replicas", "writable-root", "root-user", "service-monitor-interval", "extra-arg-not-a-flag"],
)
def test_schema_rejects_unsafe_values(tmp_path, override):
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(merged(yaml.safe_load((CHART / "values.yaml").read_text()), override)))
    result = check_jsonschema(values)
    assert result.returncode == 1, result.stdout + result.stderr


def test_production_values_of_the_readme_satisfy_the_schema(tmp_path):
    values = tmp_path / "values.yaml"
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    # Helm validates the user's values merged over the chart's defaults.
    values.write_text(
        yaml.safe_dump(
            merged(
                defaults,
                {
                    "apiKey": {"existingSecret": "cursor-admin-key"},
                    "persistence": {"enabled": True, "size": "2Gi"},
                    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
                    "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
                    "networkPolicy": {"enabled": True},
                    "extraArgs": ["--budget.team-monthly-usd=2000", "--billing.seat-price-usd=40"],
                },
            )
        )
    )
    result = check_jsonschema(values)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_web_config_secret_is_mounted_passed_and_switches_the_probes_to_the_port(tmp_path):
    web = {"webConfig": {"existingSecret": "cursor-web"}}
    probe = (
        'and (has "--web.config.file=/etc/cursor-exporter-web/web-config.yml" $c.args) '
        '(contains "secretName: cursor-web" $render.deployment) $c.livenessProbe.tcpSocket $c.readinessProbe.tcpSocket'
    )
    assert holds(tmp_path, probe, web)
    assert holds(tmp_path, 'and $c.readinessProbe.httpGet (not (contains "web.config" $render.deployment))')


def test_without_a_key_the_pod_serves_and_says_so_and_demo_is_explicit(tmp_path):
    assert holds(tmp_path, 'eq (index $c.args 0) "serve"')
    assert holds(tmp_path, 'eq (index $c.args 0) "demo"', {"demo": True})
