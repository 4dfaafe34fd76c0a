#!/usr/bin/env python3
"""Checks the deployment files of deploy/ without deploying anything
(deploy/README.md says what this does and does not cover):

  systemd   the unit passes `systemd-analyze verify` (no warning either) and
            `systemd-analyze security --offline` at exposure 2.0 or less;
            it keeps the hardening settings deploy/README.md promises;
            ExecStart uses ledger-node's real flags; it restarts on the
            exit code `ledger-node --help` gives a leader that stepped down
            and not on those of bad configuration and failed verification;
            its data directory is deploy/ledger-node.toml's; nothing
            ledger-node loads needs writable executable memory (refused by
            MemoryDenyWriteExecute); the sysusers.d
            and tmpfiles.d snippets work in a scratch root. Skipped, saying
            so, where systemd-analyze is missing.
  configs   every node configuration in deploy/ (deploy/ledger-node.toml,
            the compose nodes', the Kubernetes nodes', a rendered one) is
            read by the node's own parser and validation
            (deploy_config_check); deploy/risk-policy.toml passes
            `ledgerctl policy check`.
  compose   compose.yaml parses and uses known keys; the etcd members'
            fixed addresses, peer URLs and client URLs agree with each other
            and with every node's etcd_endpoints (IPv4 literals); the three
            node configurations form one cluster (same origin, endpoints and
            log key; each lists the two others, at their service names and
            ports, their client address as published); mounts, commands
            and health checks name the files the configurations use;
            setup.sh, run in a scratch directory, writes every file they
            name, with certificates that carry the names peers dial; the
            Dockerfile installs the Debian package of every shared library
            this build's ledger-node and ledgerctl link.
  k8s       every manifest parses and uses known keys; kustomization.yaml
            lists them all; StatefulSet, Services and PodDisruptionBudget
            agree (names, selectors, ports, replicas, volumes); the
            readiness probe uses the node's port and certificate; the three
            node configurations form one cluster at their pod DNS names;
            make-secrets.sh and the init container's render.sh, run in a
            scratch directory, produce a configuration the node accepts,
            with the etcd names resolved to IPv4 and keys mode 0600.
  other     deploy/prometheus.yml and deploy/grafana-dashboard.json parse.

  deploy_test.py --source SOURCE --ledger-node BIN --ledgerctl BIN
                 --config-check BIN
"""

import argparse
import base64
import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("deploy_test: Python's yaml module is missing: install Debian's "
          "python3-yaml (scripts/install-deps.sh)", file=sys.stderr)
    sys.exit(1)

ARGS = None
FAILURES = []
SKIPPED = []
CHECKS = 0


def check(condition, what):
    """Records one expectation; `what` says what was expected."""
    global CHECKS
    CHECKS += 1
    if not condition:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return condition


def skip(what):
    SKIPPED.append(what)
    print(f"SKIP: {what}")


def src(*parts):
    return os.path.join(ARGS.source, *parts)


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          **kwargs)


def split_host_port(address):
    host, _, port = address.rpartition(":")
    return host, int(port)


def is_ipv4_endpoint(endpoint):
    host, _, port = endpoint.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return port.isdigit() and 0 < int(port) < 65536


# --- node configurations --------------------------------------------------

def load_configs(paths):
    """Runs deploy_config_check; {path: parsed config} for valid files,
    failing the check for each invalid one."""
    proc = run([ARGS.config_check] + list(paths))
    configs = {}
    for line in proc.stdout.splitlines():
        result = json.loads(line)
        if check(result["ok"], f"{result['file']} is a valid node "
                               f"configuration: {result.get('error')}"):
            configs[result["file"]] = result["config"]
    check(len(configs) == len(paths) or proc.returncode != 0,
          "deploy_config_check exits non-zero when a file is invalid")
    return configs


def check_config_checker():
    """The checker itself refuses what the node refuses (so that a valid
    verdict means something)."""
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('data_dir = "d"\ninsecure_plaintext = true\n'
                    'listen_address = "127.0.0.1:7400"\n')
        proc = run([ARGS.config_check, bad])
        check(proc.returncode == 1 and "unknown key" in proc.stdout,
              f"deploy_config_check refuses an unknown key: {proc.stdout}")
        good = os.path.join(tmp, "good.toml")
        with open(good, "w") as f:
            f.write('data_dir = "d"\ninsecure_plaintext = true\n')
        proc = run([ARGS.config_check, good])
        check(proc.returncode == 0,
              f"deploy_config_check accepts a minimal config: {proc.stdout}")


def check_cluster(label, configs, host_of, client_address_of):
    """Three node configurations form one cluster. configs: {node name:
    config}; host_of(name): the host peers dial for that node;
    client_address_of(name, config): the address a follower should name."""
    names = sorted(configs)
    check(len(names) == 3, f"{label}: three nodes, got {names}")
    first = configs[names[0]]
    for name, c in configs.items():
        cl = c["cluster"]
        check(c["node_name"] == name, f"{label}: node {name} is named {name}")
        check(cl["listen"] != "", f"{label} {name}: [cluster] listen set")
        check(c["origin"] == first["origin"] and c["origin"] != "",
              f"{label} {name}: origin {c['origin']} is the cluster's "
              f"({first['origin']})")
        check(cl["etcd_endpoints"] == first["cluster"]["etcd_endpoints"],
              f"{label} {name}: the same etcd_endpoints as {names[0]}")
        check(len(cl["etcd_endpoints"]) == 3 and
              all(is_ipv4_endpoint(e) for e in cl["etcd_endpoints"]),
              f"{label} {name}: three etcd endpoints, IPv4 literals with "
              f"ports: {cl['etcd_endpoints']}")
        check(cl["log_key_file"] == first["cluster"]["log_key_file"],
              f"{label} {name}: the same log_key_file")
        ports = [split_host_port(c["listen"])[1],
                 split_host_port(cl["listen"])[1]]
        if c["http_listen"]:
            ports.append(split_host_port(c["http_listen"])[1])
        check(len(set(ports)) == len(ports),
              f"{label} {name}: listen, cluster.listen and http_listen use "
              f"distinct ports: {ports}")
        peers = {p["name"]: p for p in cl["peers"]}
        check(sorted(peers) == sorted(n for n in names if n != name),
              f"{label} {name}: peers are the two other nodes: "
              f"{sorted(peers)}")
        for peer_name, p in peers.items():
            if peer_name not in configs:
                continue
            peer = configs[peer_name]
            want = (f"{host_of(peer_name)}:"
                    f"{split_host_port(peer['cluster']['listen'])[1]}")
            check(p["cluster_address"] == want,
                  f"{label} {name}: peer {peer_name}'s cluster_address is "
                  f"{want}, got {p['cluster_address']}")
            want = client_address_of(peer_name, peer)
            check(p["address"] == want,
                  f"{label} {name}: peer {peer_name}'s address is {want}, "
                  f"got {p['address']}")


def cert_names(pem_path):
    """The SAN entries of a certificate, as openssl prints them."""
    proc = run(["openssl", "x509", "-in", pem_path, "-noout", "-ext",
                "subjectAltName"])
    text = " ".join(proc.stdout.splitlines()[1:])
    return {s.strip() for s in text.split(",") if s.strip()}


def node_role_uris(policy_path):
    """The identities the access policy gives the node role."""
    import tomllib
    if not check(os.path.isfile(policy_path), f"{policy_path} exists"):
        return set()
    with open(policy_path, "rb") as f:
        policy = tomllib.load(f)
    return {i["uri"] for i in policy.get("identity", [])
            if i.get("role") == "node"}


# --- systemd ----------------------------------------------------------------

def parse_unit(path):
    """{section: {key: [values in order]}}; an empty value resets a list
    setting, as systemd reads it."""
    sections, section = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = sections.setdefault(line[1:-1], {})
                continue
            key, _, value = line.partition("=")
            section.setdefault(key.strip(), []).append(value.strip())
    return sections


def help_exit_codes():
    """{meaning: code} from the footer of `ledger-node --help`."""
    text = " ".join(run([ARGS.ledger_node, "--help"]).stdout.split())
    m = re.search(r"Exit codes: (.*?)\.?$", text)
    codes = {}
    if m:
        for part in m.group(1).split(","):
            part = part.strip()
            code, _, meaning = part.partition(" ")
            if code.isdigit():
                codes[meaning] = int(code)
    return codes, text


def check_systemd(sample_config):
    unit_path = src("deploy", "systemd", "ledger-node.service")
    unit = parse_unit(unit_path)
    service = unit.get("Service", {})

    def last(key):
        return service.get(key, [None])[-1]

    # ExecStart: the documented install path and real flags.
    exec_start = (last("ExecStart") or "").split()
    check(exec_start[:1] == ["/usr/local/bin/ledger-node"],
          f"ExecStart runs /usr/local/bin/ledger-node: {exec_start}")
    codes, help_text = help_exit_codes()
    for flag in [a for a in exec_start[1:] if a.startswith("--")]:
        check(re.search(rf"(^|\s){re.escape(flag)}\b", help_text),
              f"ExecStart's {flag} is a flag of ledger-node --help")
    check(exec_start[1:] ==
          ["--config", "/etc/annotation-ledger/ledger-node.toml"],
          f"ExecStart reads /etc/annotation-ledger/ledger-node.toml: "
          f"{exec_start}")

    # Restarts follow the exit codes ledger-node documents.
    stepped_down = next((c for m, c in codes.items() if "stepped down" in m),
                        None)
    data_loss = next((c for m, c in codes.items()
                      if "failed verification" in m), None)
    usage = next((c for m, c in codes.items() if "configuration" in m), None)
    check(None not in (stepped_down, data_loss, usage),
          f"ledger-node --help names the exit codes of a stepped-down "
          f"leader, failed verification and bad configuration: {codes}")
    check(last("Restart") == "on-failure", "Restart=on-failure")
    force = " ".join(service.get("RestartForceExitStatus", [])).split()
    prevent = " ".join(service.get("RestartPreventExitStatus", [])).split()
    check(str(stepped_down) in force,
          f"RestartForceExitStatus= has {stepped_down} (a leader stepped "
          f"down): {force}")
    check(sorted(prevent) == sorted([str(usage), str(data_loss)]),
          f"RestartPreventExitStatus= is {usage} and {data_loss} (bad "
          f"configuration, failed verification): {prevent}")
    check(str(stepped_down) not in prevent,
          "the stepped-down exit code is not prevented from restarting")

    # Hardening deploy/README.md promises.
    expected = {
        "User": "ledger", "Group": "ledger", "ProtectSystem": "strict",
        "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
        "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
        "LockPersonality": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "SystemCallErrorNumber": "EPERM",
    }
    for key, value in expected.items():
        check(last(key) == value, f"{key}={value}, got {last(key)!r}")
    check("@system-service" in service.get("SystemCallFilter", []),
          "SystemCallFilter=@system-service")

    # MemoryDenyWriteExecute=yes refuses memory both writable and
    # executable: nothing the node loads may ask for it (an executable
    # stack or text relocations).
    if last("MemoryDenyWriteExecute") == "yes" and shutil.which("readelf"):
        objects = [ARGS.ledger_node] + linked_libraries([ARGS.ledger_node])
        wx = []
        for path in objects:
            segments = run(["readelf", "-lW", path]).stdout
            dynamic = run(["readelf", "-dW", path]).stdout
            m = re.search(r"GNU_STACK(?:\s+\S+){5}\s+(\S+)", segments)
            if m is None or "E" in m.group(1) or "TEXTREL" in dynamic:
                wx.append(path)
        check(not wx, f"no executable stack or text relocations in "
                      f"ledger-node and the {len(objects) - 1} libraries it "
                      f"links (MemoryDenyWriteExecute): {wx}")

    # The one writable path is the sample configuration's data directory.
    data_dir = sample_config["data_dir"] if sample_config else None
    check(service.get("ReadWritePaths") == [data_dir],
          f"ReadWritePaths= is data_dir of deploy/ledger-node.toml "
          f"({data_dir}): {service.get('ReadWritePaths')}")
    check(data_dir == "/var/lib/" + (last("StateDirectory") or ""),
          f"StateDirectory= is {data_dir}")

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        skip("systemd-analyze is not installed (Debian package systemd): "
             "the unit, sysusers.d and tmpfiles.d snippets were not "
             "verified by systemd")
        return
    with tempfile.TemporaryDirectory() as root:
        # verify loads the unit with its dependencies in a scratch root: the
        # system's unit files, and the binary as an empty executable (its
        # existence is all verify checks).
        shutil.copytree("/usr/lib/systemd/system",
                        os.path.join(root, "usr/lib/systemd/system"),
                        symlinks=True)
        os.makedirs(os.path.join(root, "etc/systemd/system"))
        shutil.copy(unit_path, os.path.join(root, "etc/systemd/system"))
        binary = os.path.join(root, "usr/local/bin/ledger-node")
        os.makedirs(os.path.dirname(binary))
        with open(binary, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(binary, 0o755)
        proc = run([analyze, "verify", f"--root={root}",
                    "ledger-node.service"])
        out = (proc.stdout + proc.stderr).strip()
        check(proc.returncode == 0 and out == "",
              f"systemd-analyze verify passes without a word: "
              f"exit {proc.returncode}: {out}")
        # The check catches what it should: a misspelt key.
        with open(os.path.join(root, "etc/systemd/system",
                               "ledger-node.service"), "a") as f:
            f.write("ProtectSytem=strict\n")
        proc = run([analyze, "verify", f"--root={root}",
                    "ledger-node.service"])
        check("Unknown key" in proc.stdout + proc.stderr,
              "systemd-analyze verify reports a misspelt key (self-check)")

    # --threshold is in tenths: 20 is an exposure of 2.0.
    proc = run([analyze, "security", "--offline=yes", "--threshold=20",
                unit_path])
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    check(proc.returncode == 0 and m is not None,
          f"systemd-analyze security: exposure at most 2.0, got "
          f"{m.group(1) if m else proc.stdout[-300:] + proc.stderr}")

    sysusers = shutil.which("systemd-sysusers")
    tmpfiles = shutil.which("systemd-tmpfiles")
    if sysusers is None or tmpfiles is None:
        skip("systemd-sysusers or systemd-tmpfiles missing")
        return
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "etc"))
        for name in ("passwd", "group"):
            open(os.path.join(root, "etc", name), "w").close()
        proc = run([sysusers, f"--root={root}",
                    src("deploy", "systemd", "annotation-ledger.sysusers")])
        check(proc.returncode == 0, f"systemd-sysusers: {proc.stderr}")
        with open(os.path.join(root, "etc", "passwd")) as f:
            users = {line.split(":")[0]: line.strip().split(":")
                     for line in f if line.strip()}
        user = users.get(last("User"))
        check(user is not None and user[5] == data_dir and
              user[6] == "/usr/sbin/nologin",
              f"sysusers.d makes {last('User')} with home {data_dir} and no "
              f"login: {user}")
        proc = run([tmpfiles, f"--root={root}", "--create",
                    src("deploy", "systemd", "annotation-ledger.tmpfiles")])
        check(proc.returncode == 0, f"systemd-tmpfiles: {proc.stderr}")
        conf = os.path.join(root, "etc/annotation-ledger")
        st = os.stat(conf) if os.path.isdir(conf) else None
        check(st is not None and stat.S_IMODE(st.st_mode) == 0o750 and
              user is not None and st.st_gid == int(user[3]),
              "tmpfiles.d makes /etc/annotation-ledger mode 0750, group "
              "ledger")


# --- compose ------------------------------------------------------------------

# The compose specification's service keys this project may use.
COMPOSE_SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "volumes",
    "ports", "networks", "depends_on", "healthcheck", "restart", "init",
    "user", "stop_grace_period", "stop_signal", "network_mode",
    "working_dir", "read_only", "cap_drop", "security_opt", "tmpfs",
    "ulimits", "labels", "expose", "profiles",
}
COMPOSE_HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries",
                            "start_period", "disable"}


def dockerfile_packages(text):
    """The packages of the Dockerfile's apt-get install lines."""
    joined = text.replace("\\\n", " ")
    packages = set()
    for m in re.finditer(r"apt-get install ([^&\n]*)", joined):
        packages |= {w for w in m.group(1).split() if not w.startswith("-")}
    return packages


def linked_libraries(binaries):
    """The shared libraries the binaries link (ldd)."""
    libs = set()
    for b in binaries:
        for line in run(["ldd", b]).stdout.splitlines():
            m = re.search(r"=> (/\S+)", line)
            if m:
                libs.add(m.group(1))
    return sorted(libs)


def packages_of(paths):
    """{path: the Debian package that ships it, or None} (dpkg -S, asked
    for the path and the file it resolves to: /lib is /usr/lib)."""
    queries = sorted({q for p in paths for q in (p, os.path.realpath(p))})
    owner = {}
    for line in run(["dpkg", "-S"] + queries).stdout.splitlines():
        package, _, path = line.partition(": ")
        owner[path.strip()] = package.split(":")[0]
    return {p: owner.get(p) or owner.get(os.path.realpath(p)) for p in paths}


def check_compose():
    folder = src("deploy", "compose")
    with open(os.path.join(folder, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    services = compose.get("services", {})
    etcd = {n: s for n, s in services.items() if n.startswith("etcd")}
    nodes = {n: s for n, s in services.items() if re.fullmatch(r"n\d", n)}
    check(sorted(services) == ["etcd1", "etcd2", "etcd3", "n1", "n2", "n3",
                               "setup"],
          f"compose services: setup, etcd1..3, n1..3: {sorted(services)}")
    for name, s in services.items():
        unknown = set(s) - COMPOSE_SERVICE_KEYS
        check(not unknown, f"compose {name}: unknown keys {unknown}")
        unknown = set(s.get("healthcheck", {})) - COMPOSE_HEALTHCHECK_KEYS
        check(not unknown, f"compose {name}: unknown healthcheck keys "
                           f"{unknown}")
        check(s.get("image") == "annotation-ledger:local" and
              s.get("build", {}).get("dockerfile") == "Dockerfile" and
              os.path.isfile(os.path.join(folder, s["build"]["context"],
                                          "Dockerfile")),
              f"compose {name}: image annotation-ledger:local from "
              f"./Dockerfile")
    volumes = set(compose.get("volumes", {}))
    for name, s in services.items():
        for v in s.get("volumes", []):
            source = v.split(":")[0]
            if source.startswith("."):
                check(os.path.exists(os.path.join(folder, source)),
                      f"compose {name}: bind-mounted {source} exists")
            else:
                check(source in volumes,
                      f"compose {name}: volume {source} is declared")

    # etcd: fixed IPv4 addresses in the network's subnet, consistent URLs.
    subnet = ipaddress.IPv4Network(
        compose["networks"]["ledger"]["ipam"]["config"][0]["subnet"])
    members, client_endpoints = {}, set()
    for name, s in sorted(etcd.items()):
        ip = s["networks"]["ledger"]["ipv4_address"]
        check(ipaddress.IPv4Address(ip) in subnet,
              f"compose {name}: {ip} is in {subnet}")
        flags = dict(a.split("=", 1) for a in s["command"][1:])
        check(flags.get("--initial-advertise-peer-urls") ==
              f"http://{ip}:2380", f"compose {name}: peer URL on {ip}")
        check(flags.get("--advertise-client-urls") == f"http://{ip}:2379",
              f"compose {name}: client URL on {ip}")
        members[flags.get("--name")] = f"http://{ip}:2380"
        client_endpoints.add(f"{ip}:2379")
        check(s["volumes"][0].split(":")[1] ==
              os.path.dirname(flags.get("--data-dir", "")),
              f"compose {name}: --data-dir inside its volume")
    for name, s in etcd.items():
        flags = dict(a.split("=", 1) for a in s["command"][1:])
        initial = dict(m.split("=", 1)
                       for m in flags["--initial-cluster"].split(","))
        check(initial == members,
              f"compose {name}: --initial-cluster names every member at "
              f"its address: {initial}")

    # The node configurations, as mounted.
    config_file = "/etc/annotation-ledger/ledger-node.toml"
    paths = {}
    for name, s in nodes.items():
        check(s.get("command") == ["ledger-node", "--config", config_file],
              f"compose {name}: runs ledger-node --config {config_file}")
        mounts = {v.split(":")[1]: v.split(":")[0] for v in s["volumes"]}
        check(mounts.get(config_file) == f"./{name}.toml",
              f"compose {name}: mounts ./{name}.toml as {config_file}")
        paths[name] = os.path.join(folder, f"{name}.toml")
    loaded = load_configs(list(paths.values()))
    configs = {name: loaded[p] for name, p in paths.items() if p in loaded}
    if len(configs) != 3:
        return

    def published(name, container_port):
        for p in nodes[name].get("ports", []):
            host_ip, host_port, port = p.split(":")
            if int(port) == container_port:
                return f"{host_ip}:{host_port}"
        return None

    check_cluster("compose", configs, host_of=lambda n: n,
                  client_address_of=lambda n, c: published(
                      n, split_host_port(c["listen"])[1]))
    for name, c in configs.items():
        s = nodes[name]
        check(set(c["cluster"]["etcd_endpoints"]) == client_endpoints,
              f"compose {name}: etcd_endpoints are the members' fixed "
              f"addresses {sorted(client_endpoints)}")
        mounts = {v.split(":")[1]: v.split(":")[0] for v in s["volumes"]}
        check(mounts.get(c["data_dir"]) == f"{name}-data",
              f"compose {name}: volume {name}-data at {c['data_dir']}")
        for key in ("tls_ca_file", "tls_cert_file", "tls_key_file",
                    "access_policy_file"):
            check(c[key].startswith("/secrets/"),
                  f"compose {name}: {key} in the secrets volume")
        check(c["cluster"]["log_key_file"].startswith("/secrets/"),
              f"compose {name}: log key in the secrets volume")
        check(mounts.get("/secrets") == "secrets",
              f"compose {name}: mounts the secrets volume at /secrets")
        test = s["healthcheck"]["test"]
        listen_port = split_host_port(c["listen"])[1]
        check(test[1] == "ledgerctl" and
              test[test.index("--server") + 1] ==
              f"127.0.0.1:{listen_port}" and
              test[test.index("--cert") + 1] == c["tls_cert_file"] and
              test[test.index("--key") + 1] == c["tls_key_file"] and
              test[test.index("--ca") + 1] == c["tls_ca_file"],
              f"compose {name}: the health check asks its own node with "
              f"its certificate: {test}")
        deps = s.get("depends_on", {})
        check(deps.get("setup", {}).get("condition") ==
              "service_completed_successfully" and
              all(deps.get(e, {}).get("condition") == "service_healthy"
                  for e in etcd),
              f"compose {name}: starts after setup and healthy etcd members")
        check(s.get("restart") == "on-failure",
              f"compose {name}: restart: on-failure (exit code 4 restarts)")
    origin = services["setup"]["environment"]["LEDGER_ORIGIN"]
    check(all(c["origin"] == origin for c in configs.values()),
          f"compose: setup's LEDGER_ORIGIN {origin} is the nodes' origin")

    # setup.sh in a scratch directory writes what the configurations name.
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SECRETS_DIR=tmp, LEDGER_ORIGIN=origin,
                   DEV_CA=src("deploy", "dev-ca.sh"),
                   LEDGERCTL=ARGS.ledgerctl)
        proc = run(["bash", os.path.join(folder, "setup.sh")], env=env)
        check(proc.returncode == 0, f"compose setup.sh: {proc.stderr}")
        node_uris = node_role_uris(os.path.join(tmp, "tls",
                                                "access-policy.toml"))
        for name, c in configs.items():
            local = {k: c[k].replace("/secrets", tmp, 1) for k in
                     ("tls_ca_file", "tls_cert_file", "tls_key_file",
                      "access_policy_file")}
            local["log_key_file"] = c["cluster"]["log_key_file"].replace(
                "/secrets", tmp, 1)
            for key, path in local.items():
                check(os.path.isfile(path),
                      f"compose {name}: setup.sh writes its {key}")
            for key in ("tls_key_file", "log_key_file"):
                if os.path.isfile(local[key]):
                    mode = stat.S_IMODE(os.stat(local[key]).st_mode)
                    check(mode == 0o600,
                          f"compose {name}: {key} mode 0600, got {mode:o}")
            if os.path.isfile(local["tls_cert_file"]):
                names = cert_names(local["tls_cert_file"])
                uri = f"URI:spiffe://annotation-ledger/node/{name}"
                check(f"DNS:{name}" in names and uri in names and
                      "IP Address:127.0.0.1" in names,
                      f"compose {name}: its certificate names DNS:{name} "
                      f"(peers dial it), 127.0.0.1 (health check) and "
                      f"{uri}: {names}")
                check(uri[4:] in node_uris,
                      f"compose {name}: the access policy gives {uri} the "
                      f"node role")

    # The Dockerfile: debian:12, the packages of every linked library.
    with open(os.path.join(folder, "Dockerfile")) as f:
        dockerfile = f.read()
    check(re.search(r"^FROM debian:12$", dockerfile, re.M),
          "Dockerfile: FROM debian:12")
    installed = dockerfile_packages(dockerfile)
    check({"etcd-server", "etcd-client", "openssl"} <= installed,
          f"Dockerfile installs etcd-server, etcd-client, openssl: "
          f"{sorted(installed)}")
    linked = packages_of(linked_libraries([ARGS.ledger_node,
                                           ARGS.ledgerctl]))
    check(linked and None not in linked.values(),
          f"every library this build links belongs to a Debian package: "
          f"{[lib for lib, p in linked.items() if p is None]}")
    missing = sorted({p for p in linked.values() if p} - installed)
    check(not missing, f"Dockerfile installs the packages of every library "
                       f"ledger-node and ledgerctl link; missing: {missing}")
    check(re.search(r"^COPY stage/ledger-node stage/ledgerctl /usr/local/bin/",
                    dockerfile, re.M),
          "Dockerfile copies the staged ledger-node and ledgerctl")


# --- Kubernetes ------------------------------------------------------------------

K8S_KEYS = {
    "StatefulSet.spec": {"serviceName", "replicas", "podManagementPolicy",
                         "updateStrategy", "selector", "template",
                         "volumeClaimTemplates", "minReadySeconds",
                         "persistentVolumeClaimRetentionPolicy",
                         "revisionHistoryLimit", "ordinals"},
    "PodSpec": {"terminationGracePeriodSeconds", "securityContext",
                "affinity", "initContainers", "containers", "volumes",
                "serviceAccountName", "nodeSelector", "tolerations",
                "topologySpreadConstraints", "priorityClassName",
                "automountServiceAccountToken", "enableServiceLinks"},
    "Container": {"name", "image", "imagePullPolicy", "command", "args",
                  "env", "envFrom", "ports", "readinessProbe",
                  "livenessProbe", "startupProbe", "securityContext",
                  "resources", "volumeMounts", "workingDir", "lifecycle"},
    "Probe": {"exec", "grpc", "httpGet", "tcpSocket",
              "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
              "failureThreshold", "successThreshold",
              "terminationGracePeriodSeconds"},
    "PodSecurityContext": {"runAsNonRoot", "runAsUser", "runAsGroup",
                           "fsGroup", "seccompProfile",
                           "fsGroupChangePolicy", "supplementalGroups"},
    "SecurityContext": {"allowPrivilegeEscalation", "readOnlyRootFilesystem",
                        "capabilities", "runAsNonRoot", "runAsUser",
                        "runAsGroup", "seccompProfile", "privileged"},
    "VolumeMount": {"name", "mountPath", "readOnly", "subPath"},
    "Volume": {"name", "configMap", "secret", "emptyDir",
               "persistentVolumeClaim", "projected"},
    "Service.spec": {"clusterIP", "publishNotReadyAddresses", "selector",
                     "ports", "type", "sessionAffinity",
                     "internalTrafficPolicy"},
    "ServicePort": {"name", "port", "targetPort", "protocol", "appProtocol"},
    "PodDisruptionBudget.spec": {"maxUnavailable", "minAvailable",
                                 "selector", "unhealthyPodEvictionPolicy"},
}


def keys_known(label, obj, kind):
    unknown = set(obj or {}) - K8S_KEYS[kind]
    check(not unknown, f"k8s {label}: unknown {kind} keys {unknown}")


def check_k8s(ledgerctl_path):
    folder = src("deploy", "k8s")
    objects = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        with open(os.path.join(folder, name)) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    objects[(doc["kind"], doc["metadata"]["name"])] = (name,
                                                                        doc)
    with open(os.path.join(folder, "kustomization.yaml")) as f:
        kustomization = yaml.safe_load(f)
    files = {n for n in os.listdir(folder)
             if n.endswith(".yaml") and n != "kustomization.yaml"}
    check(set(kustomization["resources"]) == files,
          f"kustomization.yaml lists every manifest: "
          f"{kustomization['resources']} vs {sorted(files)}")
    namespace = objects.get(("Namespace", "annotation-ledger"), (None, {}))[1]
    ns = namespace.get("metadata", {}).get("name")
    check(ns is not None, "k8s: the Namespace annotation-ledger")
    for (kind, name), (_, doc) in objects.items():
        if kind != "Namespace":
            check(doc["metadata"].get("namespace") == ns,
                  f"k8s {kind} {name}: in namespace {ns}")

    sts = objects.get(("StatefulSet", "ledger"), (None, None))[1]
    if not check(sts is not None, "k8s: StatefulSet ledger"):
        return
    spec = sts["spec"]
    keys_known("StatefulSet", spec, "StatefulSet.spec")
    pod = spec["template"]["spec"]
    keys_known("pod", pod, "PodSpec")
    keys_known("pod", pod.get("securityContext"), "PodSecurityContext")
    containers = {c["name"]: c for c in pod["containers"]}
    inits = {c["name"]: c for c in pod.get("initContainers", [])}
    for c in list(containers.values()) + list(inits.values()):
        keys_known(c["name"], c, "Container")
        keys_known(c["name"], c.get("securityContext"), "SecurityContext")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in c:
                keys_known(f"{c['name']} {probe}", c[probe], "Probe")
        for m in c.get("volumeMounts", []):
            keys_known(c["name"], m, "VolumeMount")
    for v in pod["volumes"]:
        keys_known("volume", v, "Volume")

    labels = spec["template"]["metadata"]["labels"]
    check(spec["selector"]["matchLabels"] == labels,
          "k8s: the StatefulSet's selector matches its pods' labels")
    headless = objects.get(("Service", spec["serviceName"]), (None, {}))[1]
    check(headless.get("spec", {}).get("clusterIP") == "None" and
          headless["spec"].get("publishNotReadyAddresses") is True,
          f"k8s: serviceName {spec['serviceName']} is a headless Service "
          f"that publishes pods before they are ready")
    for (kind, name), (_, doc) in objects.items():
        if kind == "Service":
            keys_known(f"Service {name}", doc["spec"], "Service.spec")
            for p in doc["spec"]["ports"]:
                keys_known(f"Service {name}", p, "ServicePort")
    pdbs = [doc for (kind, _), (_, doc) in objects.items()
            if kind == "PodDisruptionBudget"]
    check(len(pdbs) == 1 and pdbs[0]["spec"].get("maxUnavailable") == 1 and
          pdbs[0]["spec"]["selector"]["matchLabels"] == labels,
          "k8s: a PodDisruptionBudget, maxUnavailable 1, over the ledger pods")
    for pdb in pdbs:
        keys_known("PodDisruptionBudget", pdb["spec"],
                   "PodDisruptionBudget.spec")

    node = containers.get("ledger-node")
    if not check(node is not None, "k8s: container ledger-node"):
        return
    config_path = node["command"][node["command"].index("--config") + 1]
    check(node["command"][0] == "ledger-node",
          f"k8s: the container runs ledger-node: {node['command']}")
    mounts = {m["mountPath"]: m for m in node["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    for m in node["volumeMounts"] + [m for c in inits.values()
                                     for m in c["volumeMounts"]]:
        check(m["name"] in volumes or m["name"] in claims,
              f"k8s: volume {m['name']} is defined")

    # The per-ordinal configurations of the ConfigMap.
    cm = objects.get(("ConfigMap", "ledger-config"), (None, {}))[1]
    data = cm.get("data", {})
    ordinals = sorted(k for k in data if re.fullmatch(r"ledger-\d+\.toml", k))
    check(len(ordinals) == spec["replicas"] == 3,
          f"k8s: one configuration per replica: {ordinals}, replicas "
          f"{spec['replicas']}")
    placeholder = '"192.0.2.1:2379", "192.0.2.2:2379", "192.0.2.3:2379"'
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for key in ordinals:
            text = data[key]
            check("@ETCD_ENDPOINTS@" in text,
                  f"k8s {key}: etcd_endpoints left to render.sh")
            paths[key[:-5]] = os.path.join(tmp, key)
            with open(paths[key[:-5]], "w") as f:
                f.write(text.replace("@ETCD_ENDPOINTS@", placeholder))
        loaded = load_configs(list(paths.values()))
    configs = {n: loaded[p] for n, p in paths.items() if p in loaded}
    if len(configs) != 3:
        return
    domain = f"{spec['serviceName']}.{ns}.svc.cluster.local"
    check_cluster("k8s", configs, host_of=lambda n: f"{n}.{domain}",
                  client_address_of=lambda n, c:
                  f"{n}.{domain}:{split_host_port(c['listen'])[1]}")
    any_config = next(iter(configs.values()))
    ports = {p["name"]: p["containerPort"] for p in node["ports"]}
    check(ports.get("client") == split_host_port(any_config["listen"])[1] and
          ports.get("replication") ==
          split_host_port(any_config["cluster"]["listen"])[1] and
          ports.get("http") == split_host_port(any_config["http_listen"])[1],
          f"k8s: container ports are the configured ports: {ports}")
    data_claim = next((m for m in node["volumeMounts"] if m["name"] in claims),
                      None)
    check(data_claim is not None and
          all(c["data_dir"] == data_claim["mountPath"]
              for c in configs.values()),
          "k8s: the claimed volume is mounted at data_dir")
    run_dir = os.path.dirname(config_path)
    check(run_dir in mounts and all(
        os.path.dirname(c[k]) == run_dir for c in configs.values()
        for k in ("tls_ca_file", "tls_cert_file", "tls_key_file",
                  "access_policy_file")) and all(
        os.path.dirname(c["cluster"]["log_key_file"]) == run_dir
        for c in configs.values()),
          f"k8s: configuration and key material in {run_dir}, which "
          f"render.sh fills")

    # Readiness: ledgerctl against the node's own port with its own
    # certificate; a grpc: probe would fail the mutual TLS handshake.
    probe = node.get("readinessProbe", {})
    cmd = probe.get("exec", {}).get("command", [])
    check("grpc" not in probe and cmd[:1] == ["ledgerctl"] and
          cmd[cmd.index("--server") + 1] ==
          f"127.0.0.1:{split_host_port(any_config['listen'])[1]}" and
          cmd[cmd.index("--cert") + 1] == any_config["tls_cert_file"] and
          cmd[cmd.index("--key") + 1] == any_config["tls_key_file"] and
          cmd[cmd.index("--ca") + 1] == any_config["tls_ca_file"] and
          cmd[-1] == "keys",
          f"k8s: the readiness probe asks the node itself with its own "
          f"certificate: {cmd}")

    # The init container: render.sh from the ConfigMap, the Secrets that
    # make-secrets.sh writes, etcd names that are the Services'.
    init = inits.get("render-config")
    if not check(init is not None, "k8s: init container render-config"):
        return
    init_mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    check(init["command"] == ["bash", "/config/render.sh"] and
          volumes[init_mounts["/config"]]["configMap"]["name"] ==
          "ledger-config",
          "k8s: the init container runs render.sh of ledger-config")
    check(init_mounts.get(run_dir) == mounts[run_dir]["name"] and
          mounts[run_dir].get("readOnly") is True,
          f"k8s: the init container writes {run_dir}, the node reads it")
    env = {e["name"]: e for e in init["env"]}
    etcd_names = env["ETCD_ENDPOINTS"]["value"].split()
    services = {name for (kind, name) in objects if kind == "Service"}
    for endpoint in etcd_names:
        host, port = split_host_port(endpoint)
        service = host.split(".")[0]
        svc = objects.get(("Service", service), (None, {}))[1]
        check(host == f"{service}.{ns}.svc.cluster.local" and
              service in services and
              port in [p["port"] for p in svc["spec"]["ports"]],
              f"k8s: etcd endpoint {endpoint} is a Service of "
              f"etcd-services.yaml")
    check(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] ==
          "metadata.name", "k8s: render.sh learns its pod's name")
    secret_dirs = {volumes[name]["secret"]["secretName"]: path
                   for path, name in init_mounts.items()
                   if "secret" in volumes.get(name, {})}

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "made")
        proc = run(["bash", os.path.join(folder, "make-secrets.sh"),
                    "--out", out, "--ledgerctl", ledgerctl_path])
        if not check(proc.returncode == 0,
                     f"make-secrets.sh: {proc.stderr}"):
            return
        with open(os.path.join(out, "secrets.yaml")) as f:
            secrets = {d["metadata"]["name"]: d for d in yaml.safe_load_all(f)}
        check(set(secrets) == set(secret_dirs),
              f"k8s: make-secrets.sh writes the Secrets the pods mount: "
              f"{sorted(secrets)} vs {sorted(secret_dirs)}")
        check(all(s["metadata"]["namespace"] == ns for s in secrets.values()),
              f"k8s: the Secrets are in {ns}")
        # Lay the Secrets and the ConfigMap out as the pod sees them.
        dirs = {}
        for name, secret in secrets.items():
            dirs[name] = os.path.join(tmp, "secret-" + name)
            os.makedirs(dirs[name])
            for key, value in secret["data"].items():
                with open(os.path.join(dirs[name], key), "wb") as f:
                    f.write(base64.b64decode(value))
        config_dir = os.path.join(tmp, "config")
        os.makedirs(config_dir)
        for key, value in data.items():
            with open(os.path.join(config_dir, key), "w") as f:
                f.write(value)
        run_out = os.path.join(tmp, "run")
        env_base = dict(os.environ, CONFIG_DIR=config_dir, OUT_DIR=run_out,
                        TLS_DIR=dirs.get("ledger-tls", ""),
                        LOG_KEY_DIR=dirs.get("ledger-log-key", ""))
        check(secret_dirs.get("ledger-tls") == "/secrets/tls" and
              secret_dirs.get("ledger-log-key") == "/secrets/log-key",
              f"k8s: the init container mounts the Secrets where render.sh "
              f"reads them: {secret_dirs}")
        render = ["bash", os.path.join(config_dir, "render.sh")]
        proc = run(render, env=dict(
            env_base, POD_NAME="ledger-1",
            ETCD_ENDPOINTS="localhost:2379 127.0.0.2:2379 127.0.0.3:2479"))
        if not check(proc.returncode == 0, f"render.sh: {proc.stderr}"):
            return
        rendered = os.path.join(run_out, os.path.basename(config_path))
        with open(rendered) as f:
            text = f.read().replace(run_dir + "/", run_out + "/")
        with open(rendered, "w") as f:
            f.write(text)
        loaded = load_configs([rendered])
        if rendered in loaded:
            c = loaded[rendered]
            check(c["node_name"] == "ledger-1",
                  "render.sh picks ledger-1.toml for pod ledger-1")
            check(c["cluster"]["etcd_endpoints"] ==
                  ["127.0.0.1:2379", "127.0.0.2:2379", "127.0.0.3:2479"],
                  f"render.sh resolves etcd names to IPv4 and keeps IPv4 "
                  f"literals: {c['cluster']['etcd_endpoints']}")
            for key in ("tls_key_file", "tls_cert_file", "tls_ca_file",
                        "access_policy_file"):
                check(os.path.isfile(c[key]), f"render.sh writes {key}")
            for path in (c["tls_key_file"], c["cluster"]["log_key_file"]):
                mode = (stat.S_IMODE(os.stat(path).st_mode)
                        if os.path.exists(path) else None)
                check(mode == 0o600,
                      f"render.sh: {os.path.basename(path)} mode 0600 "
                      f"(the node refuses a key others may read): "
                      f"{'missing' if mode is None else format(mode, 'o')}")
            names = cert_names(c["tls_cert_file"])
            for want in (f"DNS:ledger-1.{domain}",
                         f"DNS:ledger-client.{ns}.svc.cluster.local",
                         "IP Address:127.0.0.1",
                         "URI:spiffe://annotation-ledger/node/ledger-1"):
                check(want in names,
                      f"k8s: ledger-1's certificate names {want}: {names}")
            check("spiffe://annotation-ledger/node/ledger-1" in
                  node_role_uris(c["access_policy_file"]),
                  "k8s: the access policy gives ledger-1 the node role")
            check(c["origin"] == re.search(
                r'^ORIGIN=(\S+)$', open(os.path.join(
                    folder, "make-secrets.sh")).read(), re.M).group(1),
                  "k8s: make-secrets.sh's default origin is the nodes'")
        proc = run(render, env=dict(env_base, POD_NAME="ledger-3",
                                    ETCD_ENDPOINTS="127.0.0.1:2379"))
        check(proc.returncode != 0 and "ledger-3.toml" in proc.stderr,
              f"render.sh refuses a pod without a configuration: "
              f"{proc.stderr}")
        proc = run(render, env=dict(env_base, POD_NAME="ledger-0",
                                    ETCD_ENDPOINTS="127.0.0.1"))
        check(proc.returncode != 0 and "host:port" in proc.stderr,
              f"render.sh refuses an endpoint without a port: {proc.stderr}")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--ledger-node", required=True)
    parser.add_argument("--ledgerctl", required=True)
    parser.add_argument("--config-check", required=True)
    ARGS = parser.parse_args()
    ARGS.source = os.path.abspath(ARGS.source)

    check_config_checker()
    sample = src("deploy", "ledger-node.toml")
    loaded = load_configs([sample])
    proc = run([ARGS.ledgerctl, "policy", "check",
                src("deploy", "risk-policy.toml")])
    check(proc.returncode == 0,
          f"deploy/risk-policy.toml passes ledgerctl policy check: "
          f"{proc.stdout}{proc.stderr}")
    check_systemd(loaded.get(sample))
    check_compose()
    check_k8s(ARGS.ledgerctl)
    with open(src("deploy", "prometheus.yml")) as f:
        check(isinstance(yaml.safe_load(f), dict),
              "deploy/prometheus.yml parses")
    with open(src("deploy", "grafana-dashboard.json")) as f:
        check(isinstance(json.load(f), dict),
              "deploy/grafana-dashboard.json parses")

    print(f"deploy_test: {CHECKS - len(FAILURES)} of {CHECKS} checks passed"
          + (f", skipped: {'; '.join(SKIPPED)}" if SKIPPED else ""))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
