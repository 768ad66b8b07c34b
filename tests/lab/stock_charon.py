# SPDX-License-Identifier: GPL-2.0-or-later
# A stock strongSwan charon as the far end of a lab IPsec test (docs/IPSEC.md): kernel-libipsec
# (this kernel has no ESP, so the peer does ESP in user space, always in UDP 4500), its own
# strongswan.conf, swanctl.conf, credentials and vici socket in a folder of the test's, and a
# private tmpfs on /run so that its fixed pid file clashes with no other charon.

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from labkit import run

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "/usr/sbin/swanctl"
PLUGIN_DIR = Path("/usr/lib/ipsec/plugins")
PLUGINS = ["random", "nonce", "openssl", "aes", "sha1", "sha2", "hmac", "gcm", "kdf", "x509", "pem",
           "pkcs1", "pkcs8", "pubkey", "revocation", "constraints", "socket-default",
           "kernel-libipsec", "kernel-netlink", "vici"]


def must(r):
    if r.rc != 0:
        raise AssertionError(str(r))
    return r


def wait_until(predicate, timeout, step=0.5):
    """predicate() until it returns something true or timeout seconds pass; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def spawn(procs, folder, cmd, log_name, env=None):
    """Starts cmd in its own session, output appended to folder/log_name; kept in procs."""
    with open(Path(folder) / log_name, "ab") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
    procs.append(p)
    return p


def stop_all(procs, timeout=15):
    """SIGTERM to each process group (newest first), SIGKILL after timeout; empties procs."""
    for p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
    procs.clear()


class StockCharon:
    """charon in namespace `ns`, configured in `folder` (created)."""

    def __init__(self, ns, folder, chd_keys=False):
        self.ns = ns
        self.dir = Path(folder)
        self.chd_keys = chd_keys  # chd level 4 logs the CHILD_SA keys (test_ike compares them)

    def swanctl(self, *args, timeout=15):
        return run([SWANCTL, *args, "--uri", f"unix://{self.dir}/charon.vici"], timeout=timeout)

    def log(self):
        text = ""
        for p in (self.dir / "charon.log", self.dir.parent / f"{self.dir.name}-charon.out"):
            if p.exists():
                text += p.read_text(errors="replace")[-4000:]
        return text

    def start(self, procs, conn_text, secrets_text="", files=()):
        """conn_text: the connections' bodies; files: (source, path under the folder) of the
        certificates and keys (x509/, x509ca/, private/). Loads the configuration."""
        for sub in ("x509", "x509ca", "private"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for src, rel in files:
            shutil.copy(src, self.dir / rel)
        load = " ".join(p for p in PLUGINS if (PLUGIN_DIR / f"libstrongswan-{p}.so").exists())
        chd = "\n            chd = 4" if self.chd_keys else ""
        (self.dir / "strongswan.conf").write_text(f"""charon {{
    load = {load}
    plugins {{
        vici {{
            socket = unix://{self.dir}/charon.vici
        }}
    }}
    filelog {{
        peer {{
            path = {self.dir}/charon.log
            default = 1
            ike = 2{chd}
            flush_line = yes
        }}
    }}
}}
""")
        (self.dir / "swanctl.conf").write_text(
            f"connections {{\n{conn_text}}}\nsecrets {{\n{secrets_text}}}\n")
        env = dict(os.environ, STRONGSWAN_CONF=str(self.dir / "strongswan.conf"))
        spawn(procs, self.dir.parent, ["ip", "netns", "exec", self.ns, "unshare", "-m",
                                       "--propagation", "private", "sh", "-c",
                                       f"mount -t tmpfs -o mode=0755 qorgan-run /run && exec {CHARON}"],
              f"{self.dir.name}-charon.out", env=env)
        if not wait_until(lambda: (self.dir / "charon.vici").exists(), 15):
            raise AssertionError("the peer's charon did not open its vici socket:\n" + self.log())
        ok = wait_until(lambda: self.swanctl("--load-all", "--noprompt", "--file",
                                             str(self.dir / "swanctl.conf")).rc == 0, 10, 1)
        if not ok:
            raise AssertionError("swanctl --load-all on the peer failed:\n" + self.log())
        return self
