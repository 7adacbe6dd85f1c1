#!/usr/bin/env bash
# Test PKI for dialout, openssl CLI only, EC P-256 keys.
#
#   make-pki.sh OUTDIR [--server-san SAN] [--expired NAME]... [--other-ca NAME]... NAME...
#
# Writes OUTDIR/ca.crt, ca.key, intermediary.crt/.key (CN=intermediary,
# subjectAltName from --server-san, default "DNS:intermediary") and NAME.crt/.key
# (CN=NAME, clientAuth) for every NAME. Identity in dialout = the subject CN.
# Hostile-input helpers:
#   --expired NAME   NAME.crt signed by the test CA but already expired
#   --other-ca NAME  NAME.crt signed by an unrelated CA (other-ca.crt/.key)
# Existing files are overwritten; the CA is reused if OUTDIR/ca.key exists.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [--server-san SAN] [--expired NAME] [--other-ca NAME] NAME..." >&2; exit 2; }
(($# >= 1)) || usage
out=$1; shift
server_san="DNS:intermediary"
names=(); expired=(); foreign=()
while (($#)); do
  case "$1" in
    --server-san) (($# >= 2)) || usage; server_san=$2; shift 2 ;;
    --expired)    (($# >= 2)) || usage; expired+=("$2"); shift 2 ;;
    --other-ca)   (($# >= 2)) || usage; foreign+=("$2"); shift 2 ;;
    -*) usage ;;
    *) names+=("$1"); shift ;;
  esac
done
for n in "${names[@]}" "${expired[@]}" "${foreign[@]}"; do
  [[ "$n" =~ ^[A-Za-z0-9._-]{1,63}$ ]] || { echo "make-pki: bad name '$n'" >&2; exit 2; }
done

mkdir -p "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

genkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() { # make_ca BASENAME CN
  genkey "$out/$1.key"
  openssl req -new -x509 -key "$out/$1.key" -out "$out/$1.crt" -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# sign CA_BASENAME NAME EXTFILE [openssl-x509-time-args...]
sign() {
  local ca=$1 name=$2 ext=$3; shift 3
  genkey "$out/$name.key"
  openssl req -new -key "$out/$name.key" -subj "/CN=$name" -out "$tmp/$name.csr" 2>/dev/null
  openssl x509 -req -in "$tmp/$name.csr" -CA "$out/$ca.crt" -CAkey "$out/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$ext" -out "$out/$name.crt" "$@" 2>/dev/null
}

client_ext=$tmp/client.ext
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=clientAuth" > "$client_ext"
server_ext=$tmp/server.ext
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=$server_san" > "$server_ext"

[[ -f "$out/ca.key" && -f "$out/ca.crt" ]] || make_ca ca "dialout test CA"
sign ca intermediary "$server_ext" -days 825
for n in "${names[@]}"; do sign ca "$n" "$client_ext" -days 825; done

if ((${#expired[@]})); then
  # OpenSSL 3.0's "x509 -req" cannot set dates in the past; "openssl ca" can,
  # given a throwaway database.
  mkdir -p "$tmp/ca-db"; : > "$tmp/ca-db/index.txt"
  cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $tmp/ca-db/index.txt
new_certs_dir = $tmp/ca-db
serial = $tmp/ca-db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
CNF
  for n in "${expired[@]}"; do
    openssl rand -hex 16 > "$tmp/ca-db/serial"
    genkey "$out/$n.key"
    openssl req -new -key "$out/$n.key" -subj "/CN=$n" -out "$tmp/$n.csr" 2>/dev/null
    openssl ca -batch -config "$tmp/ca.cnf" -cert "$out/ca.crt" -keyfile "$out/ca.key" \
      -startdate 20200101000000Z -enddate 20200102000000Z -extfile "$client_ext" \
      -in "$tmp/$n.csr" -out "$out/$n.crt" -notext 2>/dev/null
  done
fi

if ((${#foreign[@]})); then
  [[ -f "$out/other-ca.key" ]] || make_ca other-ca "unrelated CA"
  for n in "${foreign[@]}"; do sign other-ca "$n" "$client_ext" -days 825; done
fi

chmod 644 "$out"/*.crt
echo "make-pki: wrote $out (CA, intermediary [$server_san], ${names[*]} ${expired[*]:+expired: ${expired[*]}} ${foreign[*]:+other-ca: ${foreign[*]}})"
