#!/bin/bash
# How tests/fuzz/corpus/swanctl/charon-*.txt and raw-oneline.txt were captured (root, no
# Qorgan lab): two stock charons (kernel-libipsec) in a private network namespace over lo,
# each with its own /run (the fixed pid file), a PSK tunnel with a DN identity initiated,
# then swanctl --list-sas --pretty and --raw on both sides, terminate twice. Run it as
# `unshare -n tests/tools/swanctl_capture.sh`; the output lands in $D (below), nothing else
# changes. kernel-libipsec because this machine's kernel has no XFRM (kernel-netlink's SAs
# fail with ENOSYS); the two charons differ in ports (a 500/5500, b 1500/4500).
D=${D:-/tmp/qorgan-swanctl-capture}
KERNEL=${KERNEL:-kernel-libipsec kernel-netlink}
rm -rf $D/a $D/b; mkdir -p $D/a $D/b
PLUG="random nonce openssl aes sha1 sha2 hmac gcm kdf x509 pem pkcs1 pubkey socket-default $KERNEL vici"
mk() { # name port natport
cat > $D/$1/strongswan.conf <<C
charon {
  load = $PLUG
  port = $2
  port_nat_t = $3
  install_routes = no
  plugins { vici { socket = unix://$D/$1/charon.vici } }
  filelog { x { path = $D/$1/charon.log
    default = 1
    cfg = 2
    flush_line = yes } }
}
C
}
mk a 500 5500; mk b 1500 4500
cat > $D/a/swanctl.conf <<C
connections {
  branch1 {
    version = 2
    mobike = no
    local_addrs = 127.0.0.1
    remote_addrs = 127.0.0.2
    remote_port = 1500
    proposals = aes256-sha256-modp3072
    rekey_time = 12960
    local { auth = psk
      id = "C=KZ, O=Org, CN=gw1" }
    remote { auth = psk
      id = 127.0.0.2 }
    children { branch1 { local_ts = 198.18.1.0/24
      remote_ts = 192.0.2.0/24
      esp_proposals = aes256gcm16
      start_action = none } }
  }
}
secrets { ike-1 { id-1 = "C=KZ, O=Org, CN=gw1"
  id-2 = 127.0.0.2
  secret = 0x30313233343536373839616263646566676869 } }
C
cat > $D/b/swanctl.conf <<C
connections {
  peer {
    version = 2
    mobike = no
    local_addrs = 127.0.0.2
    remote_addrs = 127.0.0.1
    remote_port = 500
    proposals = aes256-sha256-modp3072
    local { auth = psk
      id = 127.0.0.2 }
    remote { auth = psk
      id = "C=KZ, O=Org, CN=gw1" }
    children { peer { local_ts = 192.0.2.0/24
      remote_ts = 198.18.1.0/24
      esp_proposals = aes256gcm16 } }
  }
}
secrets { ike-1 { id-1 = "C=KZ, O=Org, CN=gw1"
  id-2 = 127.0.0.2
  secret = 0x30313233343536373839616263646566676869 } }
C
ip link set lo up
ip addr add 192.0.2.1/24 dev lo
ip addr add 198.18.1.1/24 dev lo
pids=""
for X in a b; do
  STRONGSWAN_CONF=$D/$X/strongswan.conf unshare -m --propagation private sh -c "mount -t tmpfs none /run && exec /usr/lib/ipsec/charon" > $D/$X/out 2>&1 &
  pids="$pids $!"
done
for i in $(seq 50); do [ -S $D/a/charon.vici ] && [ -S $D/b/charon.vici ] && break; sleep 0.2; done
sw() { X=$1; shift; STRONGSWAN_CONF=$D/$X/strongswan.conf timeout 20 swanctl "$@" --uri unix://$D/$X/charon.vici; }
sw a --load-all --noprompt --file $D/a/swanctl.conf > $D/a/load.txt 2>&1
sw b --load-all --noprompt --file $D/b/swanctl.conf > $D/b/load.txt 2>&1
sw a --initiate --child branch1 --timeout 10 > $D/a/initiate.txt 2>&1
sleep 1
sw a --list-sas --pretty > $D/a-pretty.txt 2>$D/a-pretty.err
sw a --list-sas --raw > $D/a-raw.txt 2>/dev/null
sw b --list-sas --pretty > $D/b-pretty.txt 2>/dev/null
sw a --terminate --ike branch1 --force --timeout 5 > $D/a/terminate.txt 2>&1; echo "terminate rc=$?" >> $D/a/terminate.txt
sw a --terminate --ike branch1 --force --timeout 5 > $D/a/terminate2.txt 2>&1; echo "terminate2 rc=$?" >> $D/a/terminate2.txt
sw a --list-sas --pretty > $D/a-after.txt 2>/dev/null
kill $pids; wait
