"""The deployment files name only things that exist: checked without Docker or a cluster.

docker-compose.yml, the Dockerfile, deploy/k8s/*.yaml, deploy/env.example and the Grafana dashboard are
parsed and checked against the repository: images built from a Dockerfile that exists, python modules
that import, pinned third-party images, healthchecks, dependency conditions, no literal secrets, every
variable documented, and dashboard queries over metrics the code defines.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import json
import re
import shlex
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
K8S_DIR = ROOT / "deploy" / "k8s"
DASHBOARD = ROOT / "deploy" / "grafana" / "skills-platform.json"
RUNBOOKS = ROOT / "deploy" / "runbooks"

SERVICE_PACKAGES = {
    "voucher-service": "voucher_service",
    "training-service": "training_service",
    "certification-service": "certification_service",
    "subsidy-service": "subsidy_service",
}
# The image the repository's Dockerfile builds (compose tags it, the k8s manifests deploy it).
REPO_IMAGE = "linxian-skills"
INFRA_SERVICES = {"postgres", "kafka"}
# SKILLS_ settings whose value is a secret: never a literal in a committed file.
SECRET_NAME = re.compile(r"(SECRET|KEY|SEED|PASSWORD)", re.IGNORECASE)
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")
ONLY_INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$")


# ---------------------------------------------------------------- helpers


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def compose_services() -> dict[str, dict[str, Any]]:
    return load_compose()["services"]


def env_mapping(env: Any) -> dict[str, str]:
    """Compose `environment` as a mapping (it may be a list of NAME=value)."""
    if env is None:
        return {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def as_argv(command: Any) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def modules_of_python_argv(argv: list[str]) -> list[str]:
    """The modules a `python -m X` / `python -c CODE` / `uvicorn X:attr` command needs."""
    if not argv:
        return []
    program = Path(argv[0]).name
    modules: list[str] = []
    if program.startswith("python"):
        if "-m" in argv:
            modules.append(argv[argv.index("-m") + 1])
        if "-c" in argv:
            modules += imports_of(argv[argv.index("-c") + 1])
    elif program == "uvicorn":
        app = next(arg for arg in argv[1:] if not arg.startswith("-"))
        modules.append(app.split(":", 1)[0])
    return modules


def imports_of(code: str) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def image_is_pinned(image: str) -> bool:
    """`name:tag` or `name@sha256:...`, never `latest`, and the tag names a version (has a digit)."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return tag != "latest" and "${" not in tag and any(ch.isdigit() for ch in tag)


def image_repository(image: str) -> str:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def env_example_names(*, documented: bool = False) -> set[str]:
    """Variables deploy/env.example assigns; with documented=True also those it lists as `# NAME=...`."""
    names = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if documented and re.match(r"^#\s*[A-Z_][A-Z0-9_]*=", line):
            line = line.lstrip("#").strip()
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def strings_in(node: Any) -> Iterator[str]:
    """Every string value (and key) of a parsed YAML document; comments are not values."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)
    elif isinstance(node, str):
        yield node


def long_running(name: str, service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) != "no"


def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object in deploy/k8s (kustomization.yaml is kustomize's, not an object)."""
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                yield path, doc


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc.get("kind") in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return doc["spec"]["template"]["spec"]
    if doc.get("kind") == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


@functools.cache
def consumer_groups(package: str) -> tuple[str, ...]:
    """The service's consumer groups, from its app factory (create() builds no engine, starts nothing)."""
    runtime = importlib.import_module(f"{package}.main").create().state.runtime
    return tuple(spec.name for spec in runtime.consumer_specs)


def source_metrics() -> dict[str, set[str]]:
    """Prometheus metrics the code defines: name -> label names (from the .py files)."""
    pattern = re.compile(
        r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"\s*,\s*\"[^\"]*\"\s*,\s*\[([^\]]*)\]",
        re.S,
    )
    metrics: dict[str, set[str]] = {}
    for folder in [ROOT / "services", *sorted(ROOT.glob("*-service"))]:
        for path in folder.rglob("*.py"):
            for kind, name, labels in pattern.findall(path.read_text(encoding="utf-8")):
                label_names = set(re.findall(r"\"([^\"]+)\"", labels))
                if kind == "Histogram":
                    label_names.add("le")
                metrics[name] = label_names
    return metrics


def all_source_text() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for folder in [ROOT / "services", *sorted(ROOT.glob("*-service"))]
        for path in folder.rglob("*.py")
    )


def dashboard_panels() -> list[dict[str, Any]]:
    panels = []
    for panel in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]:
        panels.append(panel)
        panels += panel.get("panels", [])
    return [p for p in panels if p.get("type") != "row"]


# ---------------------------------------------------------------- Dockerfile


def dockerfile_base_images(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    args = dict(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", text, re.M))
    stages: set[str] = set()
    images = []
    for match in re.finditer(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I):
        image = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), match.group(1))
        if image not in stages:
            images.append(image)
        if match.group(2):
            stages.add(match.group(2))
    return images


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    images = dockerfile_base_images(ROOT / "Dockerfile")
    assert images and all(image_is_pinned(image) for image in images), images
    assert all(image.startswith("python:3.11") for image in images), images
    assert len(re.findall(r"^FROM\s", text, re.M)) >= 2, "multi-stage build expected"
    assert re.search(r"pip install[^\n]*\"?uv==\d+\.\d+\.\d+", text), "uv must be pinned"
    assert "uv sync --frozen --no-dev" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in {"root", "0"}, "the runtime stage must not run as root"


def test_dockerfile_default_command_starts_a_service_that_exists() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = json.loads(re.findall(r"^CMD\s+(\[.*\])", text, re.M)[-1])
    modules = modules_of_python_argv(cmd)
    assert modules and all(module_exists(m) for m in modules), modules


def test_dockerfile_copies_only_paths_that_exist() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, re.M):
        sources = [part for part in line.split() if not part.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


# ---------------------------------------------------------------- docker-compose.yml


def test_compose_has_the_four_services_and_their_migrations() -> None:
    services = compose_services()
    for name, package in SERVICE_PACKAGES.items():
        assert name in services, name
        migrate = name.replace("-service", "-migrate")
        assert migrate in services, migrate
        assert as_argv(services[name]["command"])[:2] == ["uvicorn", f"{package}.main:create"]
        # issue 16: uvicorn must not believe X-Forwarded-For itself (its default trusts 127.0.0.1)
        assert "--no-proxy-headers" in as_argv(services[name]["command"]), name
        assert as_argv(services[migrate]["command"]) == ["python", "-m", f"{package}.migrate", "upgrade"]
        # The service starts only after its migration finished successfully.
        assert services[name]["depends_on"][migrate] == {"condition": "service_completed_successfully"}
        assert str(services[migrate].get("restart", "no")) == "no"


def test_compose_runs_postgres_16_and_kafka_in_kraft_mode() -> None:
    services = compose_services()
    assert image_repository(services["postgres"]["image"]) == "postgres"
    assert services["postgres"]["image"].split(":", 1)[1].startswith("16")
    init_mounts = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init_mounts
    for mount in init_mounts:
        assert (ROOT / mount.split(":", 1)[0]).is_file(), mount
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = env_mapping(kafka["environment"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" in env and "KAFKA_CONTROLLER_LISTENER_NAMES" in env
    assert "ZOOKEEPER" not in " ".join(env), "KRaft mode: no ZooKeeper"


def test_compose_builds_only_from_dockerfiles_that_exist() -> None:
    built = 0
    for name, service in compose_services().items():
        build = service.get("build")
        if build is None:
            continue
        built += 1
        if isinstance(build, str):
            context, dockerfile = build, "Dockerfile"
        else:
            context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
        assert (ROOT / context / dockerfile).is_file(), f"{name}: {context}/{dockerfile} does not exist"
        assert (ROOT / context / dockerfile).resolve() == (ROOT / "Dockerfile").resolve(), name
        # No shared tag between built services: parallel builds of one tag race ("already exists").
        assert "image" not in service, f"{name}: let compose name the built image"
    assert built >= 2 * len(SERVICE_PACKAGES)


def test_compose_pins_every_image_it_does_not_build() -> None:
    for name, service in compose_services().items():
        if "build" not in service:
            assert "image" in service, name
            assert image_is_pinned(service["image"]), f"{name}: {service['image']} is not pinned to a version tag"


def test_compose_commands_name_python_modules_that_exist() -> None:
    checked = 0
    for name, service in compose_services().items():
        if "build" not in service:
            continue
        modules = modules_of_python_argv(as_argv(service.get("command")))
        assert modules, f"{name}: no python module in its command"
        for module in modules:
            assert module_exists(module), f"{name}: module {module} is not in the repository"
            checked += 1
    assert checked >= 2 * len(SERVICE_PACKAGES)


def test_compose_province_simulator_is_an_optional_demo_profile() -> None:
    simulator = compose_services()["province-simulator"]
    assert simulator["profiles"] == ["demo"]
    argv = as_argv(simulator["command"])
    assert modules_of_python_argv(argv) == ["testsupport.province_simulator"]
    # Its argparse options, not guessed ones.
    from testsupport import province_simulator

    source = Path(province_simulator.__file__).read_text(encoding="utf-8")
    for option in [arg for arg in argv if arg.startswith("--")]:
        assert f'"{option}"' in source, option


def test_compose_long_running_containers_have_healthchecks() -> None:
    for name, service in compose_services().items():
        if not long_running(name, service):
            # The only one-shot containers are the migrations; anything else must run with a healthcheck.
            assert name.endswith("-migrate"), f"{name} has restart: no but is not a migration"
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        test = check["test"]
        if isinstance(test, list) and test[0] == "CMD" and Path(test[1]).name.startswith("python"):
            for module in modules_of_python_argv(test[1:]):
                assert module_exists(module), f"{name}: healthcheck imports {module}"
    for name in SERVICE_PACKAGES:
        test = " ".join(compose_services()[name]["healthcheck"]["test"])
        assert "urllib" in test and "/healthz" in test, name


def test_compose_waits_for_healthy_postgres_and_kafka() -> None:
    for name, service in compose_services().items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must state conditions"
        for infra in INFRA_SERVICES & set(depends):
            assert depends[infra] == {"condition": "service_healthy"}, f"{name} -> {infra}"
        if name.endswith("-service") or name.endswith("-migrate"):
            assert INFRA_SERVICES <= set(depends), f"{name} must wait for postgres and kafka"


def test_compose_holds_no_literal_secret() -> None:
    for name, service in compose_services().items():
        for var, value in env_mapping(service.get("environment")).items():
            if SECRET_NAME.search(var):
                assert ONLY_INTERPOLATION.match(value), f"{name}: {var} must be ${{...}} from .env, not a literal"
                assert ":?" in value, f"{name}: {var} must be required (${{{var}:?...}}), not defaulted"
            # Credentials inside a URL are interpolated too.
            for user_info in re.findall(r"://([^@/\s]+)@", value):
                if ":" in user_info:
                    password = user_info.split(":", 1)[1]
                    assert ONLY_INTERPOLATION.match(password), f"{name}: {var} has a literal password"


def test_compose_production_settings() -> None:
    for name in [*SERVICE_PACKAGES, *(n.replace("-service", "-migrate") for n in SERVICE_PACKAGES)]:
        env = env_mapping(compose_services()[name]["environment"])
        assert env["SKILLS_ENVIRONMENT"] == "production", name
        assert env["SKILLS_DATABASE_URL"].startswith("postgresql+asyncpg://"), name
        assert env["SKILLS_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env["SKILLS_KAFKA_IDEMPOTENCE"] == "true", name
        for var in ("SKILLS_JWT_SECRET", "SKILLS_PERSON_KEY_SECRET", "SKILLS_BLIND_INDEX_SECRET",
                    "SKILLS_PII_ENCRYPTION_KEY"):
            assert var in env, f"{name}: {var}"
    voucher = env_mapping(compose_services()["voucher-service"]["environment"])
    assert "SKILLS_QR_SIGNING_SEED" in voucher
    training = env_mapping(compose_services()["training-service"]["environment"])
    assert "SKILLS_VOUCHER_QR_PUBLIC_KEY" in training


def test_compose_settings_are_fields_the_services_read() -> None:
    """Every SKILLS_ variable given to a service is a field of that service's settings (no typos)."""
    for name, package in SERVICE_PACKAGES.items():
        config = importlib.import_module(f"{package}.config")
        settings_class = next(
            value for key, value in vars(config).items()
            if key.endswith("Settings") and isinstance(value, type) and value.__module__ == config.__name__
        )
        fields = {f"SKILLS_{field.upper()}" for field in settings_class.model_fields}
        for service_name in (name, name.replace("-service", "-migrate")):
            env = env_mapping(compose_services()[service_name]["environment"])
            unknown = {var for var in env if var.startswith("SKILLS_")} - fields
            assert not unknown, f"{service_name}: {sorted(unknown)} are not settings of {settings_class.__name__}"


def test_every_compose_variable_is_documented_in_env_example() -> None:
    documented = env_example_names()
    used = {name for text in strings_in(load_compose()) for name in INTERPOLATION.findall(text)}
    assert used, "compose interpolates its settings"
    assert not used - documented, f"missing from deploy/env.example: {sorted(used - documented)}"
    # Every SKILLS_ setting compose gives a container is listed, the fixed ones as documentation lines.
    skills_vars = {var for service in compose_services().values()
                   for var in env_mapping(service.get("environment")) if var.startswith("SKILLS_")}
    missing = skills_vars - env_example_names(documented=True)
    assert not missing, f"SKILLS_ variables not listed in deploy/env.example: {sorted(missing)}"


def test_env_example_has_placeholders_only_and_says_how_to_generate_each_secret() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if SECRET_NAME.search(name) and name != "SKILLS_VOUCHER_QR_PUBLIC_KEY":
            assert "REPLACE_ME" in value, f"{name} must be a placeholder"
            comment = "\n".join(lines[max(0, index - 4):index])
            # generated here, or (an outside system's credential) where it is issued
            assert "python" in comment or "issued by" in comment, f"{name}: say how to generate it"
    # The code's development defaults never appear as example values.
    from skillkit.settings import DEV_PII_ENCRYPTION_KEY, DEV_SECRET_PREFIX

    text = "\n".join(lines)
    assert DEV_SECRET_PREFIX not in text and DEV_PII_ENCRYPTION_KEY not in text


def test_postgres_init_script_creates_one_database_per_service() -> None:
    script = (ROOT / "deploy" / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    services = compose_services()
    for name in SERVICE_PACKAGES:
        db = name.removesuffix("-service")
        assert re.search(rf"^create_service_database {db} \"\$\{{{db.upper()}_DB_PASSWORD", script, re.M), db
        url = env_mapping(services[name]["environment"])["SKILLS_DATABASE_URL"]
        assert url.endswith(f"@postgres:5432/{db}") and f"://{db}:" in url, url
        assert f"{db.upper()}_DB_PASSWORD" in env_mapping(services["postgres"]["environment"])


# ---------------------------------------------------------------- Kubernetes


def test_k8s_manifests_parse_and_kustomization_lists_them() -> None:
    docs = list(k8s_documents())
    assert docs
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    for resource in kustomization["resources"]:
        assert (K8S_DIR / resource).is_file(), resource
    assert "secret.template.yaml" not in kustomization["resources"], "the Secret template must not be applied"
    for generator in kustomization.get("configMapGenerator", []):
        for file in generator.get("files", []):
            assert (K8S_DIR / file.split("=", 1)[-1]).is_file(), file
    listed = set(kustomization["resources"]) | {"kustomization.yaml", "secret.template.yaml"}
    assert {p.name for p in K8S_DIR.glob("*.yaml")} <= listed, "a manifest is missing from kustomization.yaml"
    kinds = {doc["kind"] for _, doc in docs}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Job"} <= kinds
    assert kustomization["kind"] == "Kustomization"
    for _, doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc


def test_k8s_every_service_has_deployment_service_and_migration_job() -> None:
    docs = [doc for _, doc in k8s_documents()]
    by_kind_name = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}
    for name, package in SERVICE_PACKAGES.items():
        deployment = by_kind_name[("Deployment", name)]
        spec = pod_spec(deployment)
        api = spec["containers"][0]
        assert as_argv(api["command"])[:2] == ["uvicorn", f"{package}.main:create"]
        assert "--no-proxy-headers" in as_argv(api["command"]), name  # issue 16
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert api["resources"]["requests"] and api["resources"]["limits"]
        service = by_kind_name[("Service", name)]
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        job = by_kind_name[("Job", name.replace("-service", "-migrate"))]
        assert as_argv(pod_spec(job)["containers"][0]["command"]) == ["python", "-m", f"{package}.migrate", "upgrade"]


def test_k8s_every_service_publishes_its_audit_head_daily() -> None:
    """P10: a CronJob per service runs `python -m skillkit.audit_head` on the service's own database Secret and
    writes to the audit-heads volume."""
    docs = [doc for _, doc in k8s_documents()]
    claims = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "PersistentVolumeClaim"}
    jobs = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "CronJob"}
    schedules = set()
    for name in SERVICE_PACKAGES:
        short = name.removesuffix("-service")
        job = jobs[f"{short}-audit-head"]
        schedules.add(job["spec"]["schedule"])
        spec = pod_spec(job)
        [container] = spec["containers"]
        argv = as_argv(container["command"])
        assert argv[:3] == ["python", "-m", "skillkit.audit_head"] and argv[argv.index("--service") + 1] == name
        assert [ref["secretRef"]["name"] for ref in container["envFrom"]] == [f"{short}-secrets"]
        [volume] = [v for v in spec["volumes"] if v.get("persistentVolumeClaim")]
        assert volume["persistentVolumeClaim"]["claimName"] in claims
        mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
        assert argv[argv.index("--out") + 1].startswith(mount["mountPath"] + "/")
    assert len(schedules) == len(SERVICE_PACKAGES), "one service after another on the ReadWriteOnce volume"


def test_k8s_images_and_commands_exist() -> None:
    checked = 0
    for path, doc in k8s_documents():
        spec = pod_spec(doc)
        if spec is None:
            continue
        for container in all_containers(spec):
            image = container["image"]
            where = f"{path.name} {doc['metadata']['name']}/{container['name']}"
            assert image_is_pinned(image), f"{where}: {image} is not pinned"
            if image_repository(image) != REPO_IMAGE:
                continue
            argv = as_argv(container.get("command")) + as_argv(container.get("args"))
            if argv[:1] == ["python"] and argv[1].startswith("/opt/skills/"):
                # A script from the skills-scripts ConfigMap (kustomize configMapGenerator).
                script = K8S_DIR / Path(argv[1]).name
                assert script.is_file(), where
                for module in imports_of(script.read_text(encoding="utf-8")):
                    assert module_exists(module), f"{where}: {script.name} imports {module}"
                assert module_exists(f"{argv[2]}.migrations"), where
                checked += 1
                continue
            modules = modules_of_python_argv(argv)
            assert modules, f"{where}: no python module in {argv}"
            for module in modules:
                assert module_exists(module), f"{where}: module {module} is not in the repository"
                checked += 1
    assert checked >= 3 * len(SERVICE_PACKAGES)


def test_k8s_pods_run_as_non_root_with_read_only_root() -> None:
    for path, doc in k8s_documents():
        spec = pod_spec(doc)
        if spec is None:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        assert spec["securityContext"]["runAsUser"] != 0
        for container in all_containers(spec):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"]["drop"] == ["ALL"]


def test_k8s_secret_template_holds_placeholders_and_covers_every_secret_reference() -> None:
    secrets: dict[str, dict[str, str]] = {}
    for path, doc in k8s_documents():
        if doc["kind"] == "Secret":
            assert path.name == "secret.template.yaml", f"{path.name}: Secrets belong in the template only"
            assert "data" not in doc, "stringData placeholders only"
            secrets[doc["metadata"]["name"]] = doc["stringData"]
            for key, value in doc["stringData"].items():
                assert "REPLACE_ME" in value, f"{doc['metadata']['name']}.{key} must be a placeholder"
    for path, doc in k8s_documents():
        spec = pod_spec(doc)
        if spec is None:
            continue
        for container in all_containers(spec):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, source
            for var in container.get("env", []):
                assert not SECRET_NAME.search(var["name"]) or "valueFrom" in var, var["name"]
    configmap = next(doc for _, doc in k8s_documents() if doc["kind"] == "ConfigMap")
    for key in configmap["data"]:
        assert not re.search(r"SECRET|PASSWORD|SEED|_KEY$", key), f"{key} belongs in a Secret"


def test_k8s_secrets_and_config_are_settings_the_services_read() -> None:
    from skillkit.settings import ServiceSettings

    shared = {f"SKILLS_{f.upper()}" for f in ServiceSettings.model_fields}
    configmap = next(doc for _, doc in k8s_documents() if doc["kind"] == "ConfigMap")
    # Read by the kafka-topics Job, by the training service only, and by the voucher service only.
    not_shared = {"SKILLS_KAFKA_REPLICATION_FACTOR", "SKILLS_KAFKA_MIN_INSYNC_REPLICAS",
                  "SKILLS_PROVINCE_REALNAME_ENABLED", "SKILLS_WECHAT_API_BASE"}
    assert set(configmap["data"]) - not_shared <= shared
    secrets = {doc["metadata"]["name"]: doc["stringData"] for _, doc in k8s_documents() if doc["kind"] == "Secret"}
    assert set(secrets["skills-shared-secrets"]) <= shared
    for name, package in SERVICE_PACKAGES.items():
        config = importlib.import_module(f"{package}.config")
        fields = {f"SKILLS_{f.upper()}" for cls in vars(config).values()
                  if isinstance(cls, type) and issubclass(cls, ServiceSettings) for f in cls.model_fields}
        own = secrets[name.replace("-service", "-secrets")]
        assert "SKILLS_DATABASE_URL" in own
        assert set(own) <= fields, name


def test_k8s_topics_job_creates_every_topic_the_services_use() -> None:
    from skillkit.contracts.topics import ALL_TOPICS, dead_letter_topic

    job = next(doc for _, doc in k8s_documents() if doc["kind"] == "Job" and doc["metadata"]["name"] == "kafka-topics")
    container = pod_spec(job)["containers"][0]
    topics = set(next(var["value"] for var in container["env"] if var["name"] == "TOPICS").split())
    wanted = set(ALL_TOPICS)
    for package in SERVICE_PACKAGES.values():
        wanted |= {dead_letter_topic(group) for group in consumer_groups(package)}
    assert topics == wanted


def test_k8s_wait_script_is_valid_python() -> None:
    script = K8S_DIR / "wait_for_dependencies.py"
    compile(script.read_text(encoding="utf-8"), str(script), "exec")


# ---------------------------------------------------------------- Grafana


METRIC_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]")
LABEL_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def base_metric(name: str, known: dict[str, set[str]]) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if name.endswith(suffix) and name.removesuffix(suffix) in known:
            return name.removesuffix(suffix)
    return name


def test_dashboard_parses_and_every_query_names_metrics_from_the_code() -> None:
    known = source_metrics()
    source = all_source_text()
    panels = dashboard_panels()
    assert panels
    used: set[str] = set()
    for panel in panels:
        targets = panel.get("targets", [])
        assert targets, panel["title"]
        for target in targets:
            expr = target["expr"]
            names = {base_metric(n, known) for n in METRIC_SELECTOR.findall(re.sub(r"\{[^}]*\}", "{}", expr))
                     if not n.startswith("__")}
            assert names, f"{panel['title']}: no metric in {expr}"
            for name in names:
                assert name in known and f'"{name}"' in source, f"{panel['title']}: {name} is not defined in the code"
            labels_allowed = set().union(*(known[n] for n in names))
            for selector in re.findall(r"\{([^}]*)\}", expr):
                assert set(LABEL_MATCHER.findall(selector)) <= labels_allowed, f"{panel['title']}: {selector}"
            for grouping in GROUPING.findall(expr):
                labels = {label.strip() for label in grouping.split(",") if label.strip()}
                assert labels <= labels_allowed, f"{panel['title']}: by ({grouping})"
            used |= names
    # Every metric the shared kit defines is on the dashboard (services may add more of their own).
    kit = {"http_requests_total", "http_request_duration_seconds", "outbox_published_total",
           "outbox_publish_failures_total", "outbox_pending", "consumer_events_total", "consumer_dead_lettered_total"}
    assert kit <= used, f"not on the dashboard: {sorted(kit - used)}"


def test_dashboard_titles_are_chinese_with_the_english_code_in_brackets() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    for panel in dashboard["panels"] + [p for row in dashboard["panels"] for p in row.get("panels", [])]:
        title = panel["title"]
        assert re.search(r"[\u4e00-\u9fff]", title), title
        assert re.search(r"\([A-Za-z_][^)]*\)$", title), title


def test_dashboard_panel_ids_are_unique_and_placed() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24


# ---------------------------------------------------------------- runbooks


@pytest.mark.parametrize(
    "document",
    [f"deploy/runbooks/{name}" for name in ("README.md", "broker-outage.md", "dead-letters.md",
                                            "rotating-secrets.md", "restoring-a-database.md",
                                             "year-end-p5-deadline.md", "audit-chain.md", "reconciliation.md")] + ["docs/deployment.md"],
)
def test_runbook_exists_and_its_commands_and_paths_are_real(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    assert text.startswith("# ")
    for module in set(re.findall(r"python -m ([a-z_][a-z0-9_.]*)", text)):
        assert module_exists(module), f"{document}: python -m {module} does not exist"
    for path in set(re.findall(r"`((?:deploy|docs|services|tests)/[A-Za-z0-9_./-]+\.[a-z]+)`", text)):
        assert (ROOT / path).exists(), f"{document}: {path} does not exist"
    # Dead-letter topics named in a runbook are the services' real ones.
    from skillkit.contracts.topics import dead_letter_topic

    groups = {group for package in SERVICE_PACKAGES.values() for group in consumer_groups(package)}
    for topic in set(re.findall(r"\bdlq\.[a-z-]+\.v1\b", text)):
        assert topic in {dead_letter_topic(group) for group in groups}, f"{document}: {topic}"


def test_replay_commands_accept_the_runbook_options() -> None:
    from skillkit.outbox import replay_main

    import inspect

    source = inspect.getsource(replay_main)
    assert '"--since"' in source and '"--since-seq"' in source
    for package in SERVICE_PACKAGES.values():
        assert module_exists(f"{package}.replay"), package


# ---------------------------------------------------------------- replicas and autoscaling (issue 18)


def test_k8s_every_service_autoscales_on_the_lag_of_each_of_its_consumer_groups() -> None:
    docs = [doc for _, doc in k8s_documents()]
    hpas = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler"}
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}
    config = next(doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "skills-config")
    partitions = int(config["data"]["SKILLS_KAFKA_PARTITIONS"])
    for name, package in SERVICE_PACKAGES.items():
        hpa = hpas[name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        # never below the Deployment's two replicas; never more consumers than partitions
        assert hpa["spec"]["minReplicas"] == deployments[name]["spec"]["replicas"] == 2
        assert hpa["spec"]["maxReplicas"] == partitions
        lag_groups = {m["external"]["metric"]["selector"]["matchLabels"]["consumergroup"]
                      for m in hpa["spec"]["metrics"] if m["type"] == "External"
                      and m["external"]["metric"]["name"] == "kafka_consumergroup_lag"}
        assert lag_groups == set(consumer_groups(package)), name


def test_compose_runs_two_replicas_of_each_service() -> None:
    services = compose_services()
    for name in SERVICE_PACKAGES:
        first, second = services[name], services[f"{name}-replica"]
        assert {k: v for k, v in second.items() if k != "ports"} == {k: v for k, v in first.items() if k != "ports"}
        assert first["ports"] and second["ports"] == []  # one host port; both on the compose network
