"""docker-compose.optional.yml (not run here: no Docker engine) is valid YAML that matches the README and names real settings."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.optional.yml"


def readme_rows() -> dict[str, dict]:
    """The README's "Other emulators" table: {service: {image, port, settings: {NAME: value}}}."""
    section = (ROOT / "README.md").read_text().split("### Other emulators", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = {
                "image": cells[1].strip("`"), "port": int(cells[2]),
                "settings": dict(re.findall(r"`([A-Z][A-Z0-9_]+)=([^`]+)`", cells[3])),
            }
    return rows


def test_the_file_is_valid_compose_yaml():
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict) and set(document) == {"services"}
    for name, service in document["services"].items():
        assert isinstance(service["image"], str) and ":" in service["image"], name  # pinned tag
        for mapping in service["ports"]:
            assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", mapping), (name, mapping)  # loopback only


def test_services_images_and_ports_match_the_readme():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    rows = readme_rows()
    assert set(rows) == set(services) == {"localstack", "elasticmq", "dynamodb-local"}
    for name, service in services.items():
        host_ports = [int(m.split(":")[1]) for m in service["ports"]]
        assert rows[name]["image"] == service["image"], name
        assert host_ports == [rows[name]["port"]], name
        for setting, value in rows[name]["settings"].items():
            assert value.endswith(f":{rows[name]['port']}"), (name, setting, value)


def test_every_setting_it_names_exists():
    named = set(re.findall(r"\b((?:AWS|BATCHLAB|DJANGO)_[A-Z0-9_]+)=", COMPOSE.read_text()))
    named |= {s for row in readme_rows().values() for s in row["settings"]}
    assert {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB", "BATCHLAB_EMBEDDED"} <= named
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    read = set(re.findall(r'env_(?:str|int|float|bool)\("([A-Z0-9_]+)"', (ROOT / "batchlab" / "settings.py").read_text()))
    assert named <= documented, named - documented
    # Credentials and the region are read by boto3 itself; everything else by batchlab/settings.py.
    assert named - {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= read, named - read
    # The compose file's comments point at the same endpoints as the README.
    text = COMPOSE.read_text()
    for row in readme_rows().values():
        for setting, value in row["settings"].items():
            assert f"{setting}={value}" in text, (setting, value)
