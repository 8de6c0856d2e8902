"""Where a webhook may go: the URL's form and the resolved addresses, with name resolution stubbed (no connection is opened)."""

import socket

import pytest

from jobs.services.webhooks import addresses
from jobs.services.webhooks.addresses import AddressRefused, address_allowed, target_check, url_problems


@pytest.fixture
def resolves(monkeypatch):
    """Make getaddrinfo answer from a table: host -> list of addresses."""
    table: dict[str, list[str]] = {}

    def fake(host, port, *args, **kwargs):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in table[host]]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", fake)
    addresses._allowed_networks.cache_clear()
    yield table
    addresses._allowed_networks.cache_clear()


@pytest.mark.parametrize("address", [
    "10.0.0.5", "172.16.3.4", "192.168.1.1",  # private
    "169.254.169.254", "169.254.10.10",  # link-local: the cloud metadata address
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1", "239.255.255.250",  # multicast
    "0.0.0.0", "240.0.0.1", "255.255.255.255",  # unspecified, reserved, broadcast
    "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::",  # IPv6 loopback, link-local, unique local, metadata, multicast
    "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
])
def test_private_link_local_metadata_and_multicast_addresses_are_refused(settings, address):
    settings.BATCHLAB_WEBHOOK_ALLOWED_NETWORKS = []
    addresses._allowed_networks.cache_clear()
    assert address_allowed(address) is False


def test_public_addresses_are_allowed():
    assert address_allowed("93.184.216.34") and address_allowed("2606:2800:220:1:248:1893:25c8:1946")


def test_the_embedded_mode_allows_127_0_0_0_8_and_nothing_else(settings):
    settings.EMBEDDED, settings.BATCHLAB_WEBHOOK_ALLOWED_NETWORKS = True, []
    addresses._allowed_networks.cache_clear()
    assert address_allowed("127.0.0.1") and address_allowed("127.9.9.9")
    assert not address_allowed("::1") and not address_allowed("10.0.0.1") and not address_allowed("169.254.169.254")
    settings.EMBEDDED = False
    addresses._allowed_networks.cache_clear()
    assert not address_allowed("127.0.0.1")


def test_a_listed_network_is_allowed(settings):
    settings.EMBEDDED, settings.BATCHLAB_WEBHOOK_ALLOWED_NETWORKS = False, ["10.20.0.0/16"]
    addresses._allowed_networks.cache_clear()
    assert address_allowed("10.20.3.4") and not address_allowed("10.21.3.4")


@pytest.mark.parametrize("url", ["not a url", "", "example.com/hook", "ftp://example.com/hook", "https://", "javascript:alert(1)",
                                 "https://user:pw@example.com/hook", "https://example.com:0/x", "https://exa mple.com/"])
def test_malformed_or_other_scheme_urls_are_refused(url):
    assert url_problems(url)


def test_http_is_refused_outside_the_embedded_mode(settings):
    settings.EMBEDDED = False
    assert url_problems("http://example.com/hook") == ["Webhook URLs must use https:// (http:// is taken in the embedded mode only)."]
    assert url_problems("https://example.com/hook") == []
    settings.EMBEDDED = True
    assert url_problems("http://example.com/hook") == []


def test_a_host_resolving_to_a_private_address_is_refused(settings, resolves):
    settings.EMBEDDED = False
    resolves["hooks.example.com"] = ["93.184.216.34"]
    resolves["internal.example.com"] = ["10.1.2.3"]
    resolves["mixed.example.com"] = ["93.184.216.34", "169.254.169.254"]
    assert target_check("https://hooks.example.com/x").address == "93.184.216.34"
    for host in ("internal.example.com", "mixed.example.com"):
        with pytest.raises(AddressRefused, match="may not reach"):
            target_check(f"https://{host}/x")
    with pytest.raises(AddressRefused, match="does not resolve"):
        target_check("https://nowhere.example.com/x")
    with pytest.raises(AddressRefused):
        target_check("https://169.254.169.254/latest/meta-data/")
