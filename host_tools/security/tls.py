"""A private certificate authority and the broker's server certificate, made with the
`openssl` command line. EC P-256 keys everywhere: an ECDSA handshake costs an ESP32 far less
time and heap than RSA-2048. Devices check the server against the CA (shipped as ca.der,
since MicroPython's ssl takes `cadata` as DER bytes); they have no client certificates, the
broker knows them by user name and password."""

import ipaddress
import os
import re
import secrets
import shutil
import ssl
import subprocess
from pathlib import Path

CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_BEFORE_S = 30 * 86400  # reissue a server certificate that expires within 30 days

_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

# Our own minimal OpenSSL config, so the result does not depend on the system openssl.cnf.
_CNF = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[ca_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl_exe() -> str:
    exe = shutil.which("openssl")
    if not exe:
        raise RuntimeError("openssl not found: install the openssl package")
    return exe


def _openssl(*args: str) -> str:
    run = subprocess.run([openssl_exe(), *args], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {run.stderr.strip()}")
    return run.stdout


def check_host(host: str) -> str | None:
    """Why `host` cannot be a name in the server certificate, or None."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.split(".")
    if len(host) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        return f"host {host!r}: not a DNS name or IP address"
    return None


def _san(hosts: list[str]) -> str:
    out = []
    for h in hosts:
        try:
            out.append(f"IP:{ipaddress.ip_address(h)}")
        except ValueError:
            out.append(f"DNS:{h}")
    return ",".join(out)


def _new_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(path))
    os.chmod(path, 0o600)


def _serial() -> str:
    return "0x" + secrets.token_hex(16).lstrip("0")[:31]  # positive, at most 124 bits


def _cnf(folder: Path, cn: str, hosts: list[str]) -> Path:
    path = folder / "openssl.cnf"
    path.write_text(_CNF.format(cn=cn, san=_san(hosts) or "DNS:localhost"))
    return path


def make_ca(folder: Path, name: str = "street furniture CA", days: int = CA_DAYS) -> None:
    """folder/ca.key (0600) and folder/ca.crt, a self-signed CA that may sign only leaves."""
    cnf = _cnf(folder, name, [])
    _new_key(folder / "ca.key")
    _openssl("req", "-x509", "-new", "-config", str(cnf), "-extensions", "ca_ext",
             "-key", str(folder / "ca.key"), "-sha256", "-days", str(days),
             "-set_serial", _serial(), "-out", str(folder / "ca.crt"))
    cnf.unlink()


def make_server_cert(folder: Path, hosts: list[str], days: int = SERVER_DAYS) -> None:
    """folder/server.key (0600) and folder/server.crt for `hosts`, signed by folder/ca.*."""
    cnf = _cnf(folder, hosts[0], hosts)
    csr = folder / "server.csr"
    _new_key(folder / "server.key")
    _openssl("req", "-new", "-config", str(cnf), "-key", str(folder / "server.key"),
             "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(folder / "ca.crt"),
             "-CAkey", str(folder / "ca.key"), "-set_serial", _serial(), "-sha256",
             "-days", str(days), "-extfile", str(cnf), "-extensions", "server_ext",
             "-out", str(folder / "server.crt"))
    csr.unlink()
    cnf.unlink()


def write_der(pem_path: Path, der_path: Path) -> None:
    der_path.write_bytes(ssl.PEM_cert_to_DER_cert(pem_path.read_text()))


def cert_hosts(cert: Path) -> set[str]:
    """The DNS names and IP addresses in a certificate's subjectAltName."""
    text = _openssl("x509", "-in", str(cert), "-noout", "-ext", "subjectAltName")
    out = set()
    for item in re.findall(r"(?:DNS|IP Address):[^,\s]+", text):
        kind, value = item.split(":", 1)
        out.add(str(ipaddress.ip_address(value)) if kind == "IP Address" else value)
    return out


def server_cert_problem(folder: Path, hosts: list[str]) -> str | None:
    """Why folder/server.crt must be reissued (other CA, other hosts, expiring), or None."""
    crt = folder / "server.crt"
    if not crt.exists() or not (folder / "server.key").exists():
        return "no server certificate yet"
    run = subprocess.run([openssl_exe(), "verify", "-CAfile", str(folder / "ca.crt"), str(crt)],
                         capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return "server certificate is not signed by this CA"
    want = {str(ipaddress.ip_address(h)) if _is_ip(h) else h for h in hosts}
    have = cert_hosts(crt)
    if have != want:
        return f"server certificate names {sorted(have)}, wanted {sorted(want)}"
    run = subprocess.run([openssl_exe(), "x509", "-in", str(crt), "-noout", "-checkend",
                          str(RENEW_BEFORE_S)], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return "server certificate expires within 30 days"
    return None


def _is_ip(h: str) -> bool:
    try:
        ipaddress.ip_address(h)
        return True
    except ValueError:
        return False
