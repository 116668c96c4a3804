#!/usr/bin/env python3
"""Start fakepve (PyPI `fakepve[crypto]`, tested with 0.5.0) for the CLI's tests.

    python3 launch.py [--port 0] [--host 127.0.0.1] [--dir DIR] [--config faults.json]
                      [--time-scale 0] [--ssh-host-key 'ssh-ed25519 AAAA... root@x']

Prints ONE JSON line on stdout once the server listens, then serves until SIGTERM/SIGINT:
  {"url", "host", "port", "ca_cert", "server_cert", "fingerprint", "token", "token_header",
   "limited_token", "limited_token_header", "nodes", "template_vmid", "storage", "fakepve_version"}

Everything the fake starts with (nodes, storage, template, tokens) and every fault is set by the
JSON file given with --config; see DEFAULTS below for the keys. CLI flags override the file.
Items marked [launcher] are behaviour this file adds on top of fakepve; the rest is fakepve's own.
"""

import argparse
import asyncio
import datetime
import hashlib
import ipaddress
import json
import os
import uuid
import shutil
import signal
import sys
import tempfile
import time

from aiohttp import web

import fakepve
from fakepve import FakePve, PveError, TaskError

GiB = 1024 ** 3
DEFAULTS = {
    'host': '127.0.0.1',
    'port': 0,                    # 0: the OS picks a free port
    'time_scale': 0,              # real seconds per PVE second; 0 = every task ends before its POST returns
    'nodes': {                    # [launcher] figures GET /nodes and /cluster/resources show per node
        'pve1': {'maxmem': 64 * GiB, 'mem': 16 * GiB, 'maxcpu': 16, 'cpu': 0.05},
        'pve2': {'maxmem': 128 * GiB, 'mem': 8 * GiB, 'maxcpu': 32, 'cpu': 0.01},
    },
    'storage': 'local-lvm',       # fakepve's built-in lvmthin storage (content images,rootdir)
    'template': {'vmid': 9000, 'name': 'debian-12-tmpl', 'node': 'pve1', 'disk_gib': 8,
                 'tags': 'debian;template'},
    'token': 'root@pam!ci',                 # full privileges (root@pam tokens pass every check)
    'limited_token': 'audit@pve!ro',        # null to skip; gets only limited_privs on /
    'limited_privs': ['VM.Audit', 'Sys.Audit', 'Datastore.Audit'],
    'ssh_host_key': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake root@fake',
    'faults': {
        'agent': 'ok',            # [launcher] clones' agent: ok | never (not running) | hang (qmp timeout)
        'agent_delay_secs': 0,    # [launcher] real seconds after start before the agent answers
        'require_agent_config': True,  # [launcher] 'No QEMU guest agent configured' unless config agent=1
        'clone_error': None,      # [launcher] clone task ends 'TASK ERROR: clone failed: <this>'
        'clone_secs': 0,          # [launcher] PVE seconds a clone task runs (scaled by time_scale)
        'lock_clones_secs': 0,    # [launcher] real seconds the config lock stays held after a clone
        'config_lock': None,      # {"vmid": 9000, "secs": 5}: fakepve hold_config_lock, real seconds
        'vm_lock': None,          # {"vmid": 9000, "lock": "backup"}: config 'lock:' -> 'VM is locked (backup)'
        'task_warnings': {},      # [launcher] {"qmclone": 2}: tasks of that type end 'WARNINGS: 2'
        'start_error': None,      # message: every start task of a clone ends in TASK ERROR with it
        'shutdown_secs': 0,       # PVE seconds the clones' guests take to power off after ACPI
        'latency': 0,             # PVE seconds added to every response
        'no_quorum': False,       # writes fail: 500 'cluster not ready - no quorum?'
        'offline_nodes': [],      # requests for these nodes get 595 'No route to host'
        'storage_avail_gib': None,  # free space of the storage; too small -> clone fails 'No space left'
        'fail': [],               # fakepve pve.fail(): [{"method","path","status","message","times"}]
                                  # or [{"method","path","error": "<catalogue name>"}]
    },
}


def make_pki(directory, host):
    """A self-signed CA and a server cert it signs (names localhost, 127.0.0.1, host). Returns paths + DER."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, pub, signer, ca, sans=()):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
        if ca:
            b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        else:
            b = (b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                 critical=True)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                 .add_extension(x509.SubjectAlternativeName(list(sans)), critical=False))
        return b.sign(signer, hashes.SHA256())

    ca_key, srv_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'fakepve test CA')])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    sans = []
    for h in dict.fromkeys(('localhost', '127.0.0.1', host)):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    srv = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'pve1')]), ca_name,
                srv_key.public_key(), ca_key, False, sans)
    pem = serialization.Encoding.PEM
    paths = {n: os.path.join(directory, n) for n in ('ca.crt', 'server.crt', 'server.key')}
    with open(paths['ca.crt'], 'wb') as f:
        f.write(ca.public_bytes(pem))
    with open(paths['server.crt'], 'wb') as f:  # leaf then CA, so clients get the chain
        f.write(srv.public_bytes(pem) + ca.public_bytes(pem))
    with os.fdopen(os.open(paths['server.key'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as f:
        f.write(srv_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths, srv.public_bytes(serialization.Encoding.DER)


def fingerprint(der):
    """SHA-256 of the DER cert as `pvenode cert info` prints it: AB:CD:..."""
    return ':'.join('{0:02X}'.format(b) for b in hashlib.sha256(der).digest())


class TestPve(FakePve):
    """fakepve plus the few behaviours the CLI's tests need ([launcher] in DEFAULTS)."""

    def __init__(self, cfg, **kw):
        super().__init__(**kw)
        self.cfg = cfg
        self.faults = cfg['faults']

    # --- per-node memory figures: patch the node entries fakepve builds with fixed numbers
    async def _patch_nodes(self, response):
        body = json.loads(response.text)
        for item in body.get('data') or []:
            if item.get('type') == 'node' and item.get('status') == 'online':
                item.update(self.cfg['nodes'].get(item['node'], {}))
            if 'ssl_fingerprint' in item:  # fakepve sends a constant; show the real server cert's
                item['ssl_fingerprint'] = self.fingerprint
        return web.json_response(body)

    async def _nodes(self, request):
        return await self._patch_nodes(await super()._nodes(request))

    async def _resources(self, request):
        return await self._patch_nodes(await super()._resources(request))

    # --- clones: fakepve calls ceph_io(new_vm) inside the clone task while new_vm.lock == 'clone'
    async def ceph_io(self, vm, keys=None):
        if vm.lock == 'clone' and keys is None:
            f = self.faults
            await self.pause(f['clone_secs'])
            if f['clone_error']:
                raise TaskError(f['clone_error'])  # fakepve frees the disks, drops the VM, 'clone failed: ...'
            vm.agent_auto = True
            vm.shutdown_secs = f['shutdown_secs']
            vm.start_error = f['start_error']
            if f['lock_clones_secs']:
                await self.acquire(vm, 'scenario', wait=0)
                asyncio.get_running_loop().call_later(f['lock_clones_secs'], self.release, vm, 'scenario')
        await super().ceph_io(vm, keys)

    # --- tasks that end with warnings: patch the record just after fakepve's run() finishes it
    async def task(self, node, ttype, tid, user, body, **kw):
        count = self.faults['task_warnings'].get(ttype)
        if not count:
            return await super().task(node, ttype, tid, user, body, **kw)
        holder = {}

        def warn():
            rec = self.tasks.get(holder.get('upid'))
            if rec is None or rec['status'] != 'stopped':
                return asyncio.get_running_loop().call_later(0.001, warn)
            if rec['exitstatus'] == 'OK':
                rec['exitstatus'] = 'WARNINGS: {0}'.format(count)
                rec['log'][-1:] = ['WARN: fake warning'] * count + ['TASK WARNINGS: {0}'.format(count)]

        async def wrapped():
            note = await body()
            asyncio.get_running_loop().call_soon(warn)
            return note
        holder['upid'] = await super().task(node, ttype, tid, user, wrapped, **kw)
        return holder['upid']

    # --- guest agent of clones: interfaces built from net0's MAC, file-read of the ssh host key
    def _agent_state(self, vm):
        mac = str(vm.config.get('net0', '')).split(',')[0].partition('=')[2].lower() or 'bc:24:11:00:00:01'
        ip = '192.0.2.{0}'.format(10 + vm.vmid % 200)
        for part in str(vm.config.get('ipconfig0', '')).split(','):
            if part.startswith('ip=') and '/' in part:
                ip = part[3:].split('/')[0]
        v6ll = 'fe80::' + ':'.join('{0:x}'.format(int(a + b, 16)) for a, b in zip(mac.split(':')[::2], mac.split(':')[1::2]))

        def addr(a, t, p):
            return {'ip-address': a, 'ip-address-type': t, 'prefix': p}
        return {
            'interfaces': [
                {'name': 'lo', 'hardware-address': '00:00:00:00:00:00',
                 'ip-addresses': [addr('127.0.0.1', 'ipv4', 8), addr('::1', 'ipv6', 128)]},
                {'name': 'ens18', 'hardware-address': mac,
                 'ip-addresses': [addr(ip, 'ipv4', 24), addr(v6ll, 'ipv6', 64)]},
                {'name': 'docker0', 'hardware-address': '02:42:ac:11:00:01',
                 'ip-addresses': [addr('172.17.0.1', 'ipv4', 16), addr('fe80::42:acff:fe11:1', 'ipv6', 64)]},
            ],
            'files': {'/etc/ssh/ssh_host_ed25519_key.pub': self.cfg['ssh_host_key'] + '\n'},
        }

    async def _agent_call(self, match, values):
        vm = self.find(values['node'], values['vmid'])
        f = self.faults
        if f['require_agent_config'] and str(vm.config.get('agent', '0')).split(',')[0] not in ('1', 'enabled=1'):
            raise PveError(500, 'No QEMU guest agent configured')
        if getattr(vm, 'agent_auto', False) and vm.status == 'running':
            if f['agent'] == 'never' or time.time() - (vm.started_at or 0) < f['agent_delay_secs']:
                vm.agent = None
            elif vm.agent is None:
                vm.agent = self._agent_state(vm)
                vm.agent_hangs = f['agent'] == 'hang'
        return await super()._agent_call(match, values)


async def main(cfg):
    own_dir = not cfg.get('dir')  # a temp dir we made is removed on exit
    pki_dir = cfg.get('dir') or tempfile.mkdtemp(prefix='fakepve-')
    os.makedirs(pki_dir, exist_ok=True)
    pki, der = make_pki(pki_dir, cfg['host'])
    pve = TestPve(cfg, host=cfg['host'], port=cfg['port'])
    pve.fingerprint = fingerprint(der)
    pve.time_scale = cfg['time_scale']
    f = cfg['faults']

    # Cluster: nodes and storage (fakepve starts with node pve1 and storages local + local-lvm).
    pve.nodes.clear()
    for name in cfg['nodes']:
        pve.add_node(name)
    store = pve.storages[cfg['storage']] if cfg['storage'] in pve.storages else pve.storages.setdefault(
        cfg['storage'], {'type': 'lvmthin', 'active': 1, 'content': 'images,rootdir', 'files': set(),
                         'vgname': 'pve', 'thinpool': 'data'})
    if f['storage_avail_gib'] is not None:
        store['avail'] = int(f['storage_avail_gib'] * GiB)

    # Template: its disk is a base- volume (needed for linked clones) registered on the storage.
    t = cfg['template']
    sid, vmid = cfg['storage'], t['vmid']
    store.setdefault('volumes', {})['base-{0}-disk-0'.format(vmid)] = {
        'content': 'images', 'format': 'raw', 'size': t['disk_gib'] * GiB, 'vmid': vmid, 'ctime': int(time.time())}
    pve.add_vm(vmid, t['name'], node=t['node'], template=True, config={
        'template': 1, 'memory': '2048', 'cores': 2, 'sockets': 1, 'ostype': 'l26', 'agent': '1',
        'scsihw': 'virtio-scsi-single', 'boot': 'order=scsi0',
        'scsi0': '{0}:base-{1}-disk-0,size={2}G'.format(sid, vmid, t['disk_gib']),
        'ide2': '{0}:vm-{1}-cloudinit,media=cdrom'.format(sid, vmid),
        'net0': 'virtio=BC:24:11:90:00:00,bridge=vmbr0', 'serial0': 'socket', 'vga': 'serial0',
        'ipconfig0': 'ip=dhcp', 'tags': t['tags']})

    # API tokens (fakepve keeps 'user@realm!tokenid' -> secret; header PVEAPIToken=<id>=<secret>).
    tokens = {'token': '{0}={1}'.format(cfg['token'], str(uuid.uuid4()))}
    pve.apitokens[cfg['token']] = tokens['token'].split('=', 1)[1]
    if cfg.get('limited_token'):
        tokens['limited_token'] = '{0}={1}'.format(cfg['limited_token'], str(uuid.uuid4()))
        pve.apitokens[cfg['limited_token']] = tokens['limited_token'].split('=', 1)[1]
        # The first grant() switches fakepve's ACLs on; root@pam (and its tokens) keep every privilege.
        pve.grant(cfg['limited_token'], '/', *cfg['limited_privs'])

    # fakepve's own fault switches.
    if f['latency']:
        pve.slow_network(f['latency'])
    if f['no_quorum']:
        pve.lose_quorum()
    for node in f['offline_nodes']:
        pve.set_node_offline(node)
    if f['vm_lock']:
        pve.snapshot_lock(f['vm_lock']['vmid'], f['vm_lock'].get('lock', 'backup'))
    for rule in f['fail']:
        pve.fail(rule['method'], rule['path'], status=rule.get('status'), message=rule.get('message'),
                 error=rule.get('error'), times=rule.get('times'))

    await pve.start(pki['server.crt'], pki['server.key'])
    if f['config_lock']:  # held for secs *real* seconds whatever time_scale is
        vm = pve.vm(f['config_lock']['vmid'])
        await pve.hold_config_lock(vm.vmid, None)
        if f['config_lock'].get('secs'):
            asyncio.get_running_loop().call_later(f['config_lock']['secs'], pve.release_config_lock, vm.vmid)

    info = {'url': pve.url, 'host': pve.host, 'port': pve.port, 'ca_cert': pki['ca.crt'],
            'server_cert': pki['server.crt'], 'fingerprint': fingerprint(der), 'nodes': sorted(pve.nodes),
            'template_vmid': vmid, 'storage': sid, 'fakepve_version': fakepve.__version__}
    for key, value in tokens.items():
        info[key] = value
        info[key + '_header'] = 'PVEAPIToken=' + value
    print(json.dumps(info), flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await pve.stop()
    if own_dir:
        shutil.rmtree(pki_dir, ignore_errors=True)


def load_config(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', help='JSON file; keys as DEFAULTS, "faults" merged key by key')
    p.add_argument('--host')
    p.add_argument('--port', type=int)
    p.add_argument('--time-scale', type=float, dest='time_scale')
    p.add_argument('--dir', help='where to write ca.crt, server.crt, server.key (default: a new temp dir)')
    p.add_argument('--ssh-host-key', dest='ssh_host_key', help='what agent file-read of the ed25519 .pub returns')
    args = p.parse_args(argv)
    cfg = json.loads(json.dumps(DEFAULTS))
    if args.config:
        with open(args.config) as fh:
            user = json.load(fh)
        cfg['faults'].update(user.pop('faults', {}))
        cfg.update(user)
    cfg.update((k, v) for k, v in vars(args).items() if v is not None and k != 'config')
    return cfg


if __name__ == '__main__':
    try:
        asyncio.run(main(load_config()))
    except KeyboardInterrupt:
        sys.exit(0)
