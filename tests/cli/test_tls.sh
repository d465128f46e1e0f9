#!/usr/bin/env bash
# sevmig-send -o tls:// to sevmig-recv -i tls://: mutual TLS 1.3 on loopback,
# the stream keyed by the TLS exporter and acknowledged by COMMIT; and the
# refusals: a peer from another CA, a wrong peer name, a wrong pin. Nothing
# is written on the target when the handshake fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIP: no openssl command"; exit 77; }

pki() { # DIR: a CA and two leaf certificates, src and tgt
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/ca.key" \
    -out "$1/ca.crt" -subj /CN=ca -days 2 2>/dev/null
  for h in src tgt; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$h.key" \
      -out "$1/$h.csr" -subj "/CN=$h" 2>/dev/null
    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$h" >"$1/$h.ext"
    openssl x509 -req -in "$1/$h.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial \
      -out "$1/$h.crt" -days 2 -extfile "$1/$h.ext" 2>/dev/null
  done
}
pki a
pki b
head -c $((4 << 20)) /dev/urandom >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert

# migrate RECV_TLS_ARGS... -- SEND_TLS_ARGS...: exit statuses "recv send".
migrate() {
  local r=() s=()
  while [ "$1" != -- ]; do r+=("$1"); shift; done; shift; s=("$@")
  rm -f port out.mem recv.err send.err
  tb "$recv" -k target.key -m 0:4M:out.mem -i tls://127.0.0.1:0 --port-file port --timeout 20 \
    "${r[@]}" >recv.json 2>recv.err &
  local rpid=$! rrc=0 src=0
  for i in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  t "$send" -m 0:4M:guest.mem -t target.cert -o "tls://127.0.0.1:$(cat port)" --timeout 20 \
    --json "${s[@]}" >send.json 2>send.err || src=$?
  wait "$rpid" || rrc=$?
  echo "$rrc $src"
}

# 1. Mutual authentication: the guest arrives, the source saw COMMIT.
rc=$(migrate --tls-cert a/tgt.crt --tls-key a/tgt.key --tls-ca a/ca.crt --tls-peer-name src -- \
  --tls-cert a/src.crt --tls-key a/src.key --tls-ca a/ca.crt --tls-peer-name tgt)
[ "$rc" = "0 0" ] || fail "tls: exits $rc: $(cat recv.err send.err)"
cmp guest.mem out.mem || fail "tls: memory differs"
grep -q '"integrity":"tls","delivery":"committed"' send.json || fail "tls: $(cat send.json)"

# 2. A pin instead of a CA.
pin=$(openssl x509 -in a/tgt.crt -noout -fingerprint -sha256 | sed 's/.*=//')
rc=$(migrate --tls-cert a/tgt.crt --tls-key a/tgt.key --tls-ca a/ca.crt -- \
  --tls-cert a/src.crt --tls-key a/src.key --tls-pin "$pin")
[ "$rc" = "0 0" ] || fail "pin: exits $rc: $(cat recv.err send.err)"

# 3. Refusals: nothing written on the target, both sides exit 2 with a reason.
refused() { # WHAT PATTERN RC
  [ "$3" != "0 0" ] && [ "${3#* }" = 2 ] || fail "$1: exits $3"
  [ ! -e out.mem ] || fail "$1: the target wrote its output"
  grep -Eq "$2" send.err recv.err || fail "$1: $(cat send.err recv.err)"
}
rc=$(migrate --tls-cert a/tgt.crt --tls-key a/tgt.key --tls-ca a/ca.crt --max-attempts 1 -- \
  --tls-cert b/src.crt --tls-key b/src.key --tls-ca a/ca.crt)
refused "other CA" 'verif|certificate|authent' "$rc"
rc=$(migrate --tls-cert a/tgt.crt --tls-key a/tgt.key --tls-ca a/ca.crt --max-attempts 1 -- \
  --tls-cert a/src.crt --tls-key a/src.key --tls-ca a/ca.crt --tls-peer-name elsewhere)
refused "peer name" 'name|mismatch' "$rc"
rc=$(migrate --tls-cert a/tgt.crt --tls-key a/tgt.key --tls-ca a/ca.crt --max-attempts 1 -- \
  --tls-cert a/src.crt --tls-key a/src.key --tls-pin "$(printf '00%.0s' $(seq 32))")
refused "wrong pin" 'pin|fingerprint' "$rc"

# 4. The listener outlives a refused handshake: a source from another CA is
#    dropped with a line naming it, and the real source then migrates.
rm -f port out.mem recv.err
tb "$recv" -k target.key -m 0:4M:out.mem -i tls://127.0.0.1:0 --port-file port --timeout 20 \
  --tls-cert a/tgt.crt --tls-key a/tgt.key --tls-ca a/ca.crt >recv.json 2>recv.err &
rpid=$!
for i in $(seq 100); do [ -s port ] && break; sleep 0.1; done
rc=0
t "$send" -m 0:4M:guest.mem -t target.cert -o "tls://127.0.0.1:$(cat port)" --timeout 20 \
  --tls-cert b/src.crt --tls-key b/src.key --tls-ca a/ca.crt 2>send.err || rc=$?
[ "$rc" = 2 ] || fail "other CA before the source: exit $rc"
t "$send" -m 0:4M:guest.mem -t target.cert -o "tls://127.0.0.1:$(cat port)" --timeout 20 \
  --tls-cert a/src.crt --tls-key a/src.key --tls-ca a/ca.crt 2>send.err ||
  fail "the source after a refused one: $(cat send.err recv.err)"
wait "$rpid" || fail "receiver: $(cat recv.err)"
grep -q 'dropped the connection from 127.0.0.1:[0-9]* (1 of at most 8)' recv.err ||
  fail "no dropped line: $(cat recv.err)"
cmp guest.mem out.mem || fail "memory differs after a refused handshake"
echo "tls: all passed"
