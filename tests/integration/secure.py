"""A secured local broker for the security tests: TLS certificates made here with the openssl
command line, SCRAM-SHA-512 users created when its storage is formatted, ACLs enforced.

The CA, the broker's key and its certificate (for 127.0.0.1 and localhost) are new for every
test session; each role of `streams.kafka.acls` gets its own user and random password.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.kafka.acls import ROLES
from streams.localkafka import kafka_local
from streams.settings import Secret, Settings

ADMIN = "votewire-admin"


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A throwaway CA and a broker certificate it signed; returns (keystore PEM, CA PEM)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not found: the security tests make their certificates with it "
                    "(apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "broker.key", "broker.csr", "broker.pem"))
    san = folder / "san.cnf"
    san.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def sh(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    sh("req", "-x509", "-newkey", "rsa:2048", "-noenc", "-keyout", str(ca_key), "-out", str(ca),
       "-days", "2", "-subj", "/CN=votewire test CA")
    sh("req", "-newkey", "rsa:2048", "-noenc", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    sh("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
       "-out", str(cert), "-days", "2", "-extfile", str(san))
    keystore = folder / "keystore.pem"  # Kafka's PEM keystore: the PKCS#8 key, then the chain
    keystore.write_text(key.read_text() + cert.read_text())
    return keystore, ca


@dataclass(frozen=True)
class SecureKafka:
    broker: kafka_local.LocalBroker
    passwords: dict[str, Secret]  # role -> its user's password (the user is named like the role)

    def as_admin(self, settings: Settings) -> Settings:
        """`settings` logging in as the broker's super user."""
        assert self.broker.security is not None
        return self.broker.security.login(settings, ADMIN, self.broker.security.admin_password)

    def login(self, settings: Settings, role: str, password: str | None = None) -> Settings:
        """`settings` logging in as `role`'s user (with a wrong `password` when given)."""
        assert self.broker.security is not None
        given = Secret(password) if password is not None else self.passwords[role]
        return self.broker.security.login(settings, role, given)


def secure_broker(data_dir: Path) -> kafka_local.LocalBroker:
    keystore, cafile = make_certificates(data_dir / "tls")
    passwords = {role: Secret(secrets.token_urlsafe(18)) for role in ROLES}
    security = kafka_local.BrokerSecurity(keystore=keystore, cafile=cafile, admin=ADMIN,
                                          admin_password=Secret(secrets.token_urlsafe(18)),
                                          users=tuple(passwords.items()))
    settings = Settings.from_env({}, bootstrap=f"127.0.0.1:{kafka_local.free_port()}", data_dir=str(data_dir),
                                 kafka_heap="256m")
    return kafka_local.LocalBroker(settings, security=security)
