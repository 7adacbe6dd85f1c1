#!/usr/bin/env bash
# Test PKI for dialout, openssl CLI only, EC P-256 keys.
#
#   make-pki.sh OUTDIR [--server-san SAN] [--expired NAME]... [--other-ca NAME]...
#               [--ou NAME:OU[,OU...]]... [--revoked NAME]... [--crl] [--crl-only]
#               [--eku NAME:USAGE]... [--days N] NAME[:OU[,OU...]]...
#
# Writes OUTDIR/ca.crt, ca.key, intermediary.crt/.key (CN=intermediary,
# subjectAltName from --server-san, default "DNS:intermediary", extended key
# usage serverAuth) and NAME.crt/.key (CN=NAME, extended key usage clientAuth)
# for every NAME. Identity in dialout = the subject CN (the user); every subject
# OU is a group. tund refuses an intermediary certificate without serverAuth, the
# intermediary a site certificate without clientAuth.
# Groups:
#   NAME:eng,ops     NAME's subject gets OU=eng and OU=ops (positional form)
#   --ou NAME:eng    the same for a NAME given elsewhere (--revoked, --expired, ...)
# Hostile-input helpers:
#   --expired NAME   NAME.crt signed by the test CA but already expired
#   --other-ca NAME  NAME.crt signed by an unrelated CA (other-ca.crt/.key)
#   --revoked NAME   NAME.crt signed by the test CA (made unless it exists) and
#                    listed in OUTDIR/ca.crl, a PEM CRL of the test CA
#   --crl            write ca.crl even when nothing is revoked (an empty CRL, so
#                    an intermediary can start with revocation checks on)
#   --crl-only       touch nothing but ca.crl: rewrite it (atomically, by rename)
#                    to revoke exactly the --revoked NAMEs' existing certificates;
#                    for revoking a certificate while the intermediary runs
#   --eku NAME:USAGE NAME.crt (a site NAME, or "intermediary") gets extended key
#                    usage USAGE instead of its usual one: clientAuth, serverAuth,
#                    clientAuth,serverAuth, or none (no extension at all); e.g.
#                    "--eku intermediary:clientAuth" or "--eku rogue:serverAuth"
#   --days N         validity of the NAME certificates (default 825): a renewal
#                    in a test gets an expiry that differs visibly
# Existing files are overwritten; the CA is reused if OUTDIR/ca.key exists.
set -euo pipefail

usage() {
  echo "usage: $0 OUTDIR [--server-san SAN] [--expired NAME] [--other-ca NAME] [--ou NAME:OU,...]" \
    "[--revoked NAME] [--crl] [--crl-only] [--eku NAME:USAGE] [--days N] NAME[:OU,...]..." >&2
  exit 2
}
(($# >= 1)) || usage
out=$1; shift
server_san="DNS:intermediary"
names=(); expired=(); foreign=(); revoked=(); want_crl=0; crl_only=0; days=825
declare -A ous=() ekus=()
name_re='^[A-Za-z0-9._-]{1,63}$'
ou_re='^[A-Za-z0-9._-]{1,63}(,[A-Za-z0-9._-]{1,63})*$'
# add_ous NAME[:OU,...] : records OUs for NAME; sets ou_name=NAME.
add_ous() {
  ou_name=${1%%:*}
  [[ "$1" == *:* ]] || return 0
  local o=${1#*:}
  [[ "$o" =~ $ou_re ]] || { echo "make-pki: bad OU list '$o'" >&2; exit 2; }
  ous[$ou_name]=${ous[$ou_name]:+${ous[$ou_name]},}$o
}
while (($#)); do
  case "$1" in
    --server-san) (($# >= 2)) || usage; server_san=$2; shift 2 ;;
    --expired)    (($# >= 2)) || usage; expired+=("$2"); shift 2 ;;
    --other-ca)   (($# >= 2)) || usage; foreign+=("$2"); shift 2 ;;
    --revoked)    (($# >= 2)) || usage; revoked+=("$2"); want_crl=1; shift 2 ;;
    --crl)        want_crl=1; shift ;;
    --days)       (($# >= 2)) || usage
                  [[ "$2" =~ ^[1-9][0-9]{0,4}$ ]] || usage
                  days=$2; shift 2 ;;
    --crl-only)   crl_only=1; want_crl=1; shift ;;
    --ou)         (($# >= 2)) || usage; [[ "$2" == *:* ]] || usage; add_ous "$2"; shift 2 ;;
    --eku)        (($# >= 2)) || usage; [[ "$2" == *:* ]] || usage
                  case "${2#*:}" in
                    clientAuth|serverAuth|clientAuth,serverAuth|serverAuth,clientAuth|none) ;;
                    *) echo "make-pki: bad extended key usage '${2#*:}'" >&2; exit 2 ;;
                  esac
                  ekus[${2%%:*}]=${2#*:}; shift 2 ;;
    -*) usage ;;
    *) add_ous "$1"; names+=("$ou_name"); shift ;;
  esac
done
for n in "${names[@]}" "${expired[@]}" "${foreign[@]}" "${revoked[@]}" "${!ous[@]}" "${!ekus[@]}"; do
  [[ "$n" =~ $name_re ]] || { echo "make-pki: bad name '$n'" >&2; exit 2; }
done

mkdir -p "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

genkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# subject NAME : "/OU=a/OU=b/CN=NAME"
subject() {
  local s="" o
  if [[ -n "${ous[$1]:-}" ]]; then
    IFS=, read -ra list <<< "${ous[$1]}"
    for o in "${list[@]}"; do s+="/OU=$o"; done
  fi
  echo "$s/CN=$1"
}

make_ca() { # make_ca BASENAME CN
  genkey "$out/$1.key"
  openssl req -new -x509 -key "$out/$1.key" -out "$out/$1.crt" -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# ext_file NAME DEFAULT_USAGE [SAN] : an extension file for NAME (its --eku
# usage, else DEFAULT_USAGE; "none" leaves the extension out); prints its path.
ext_file() {
  local name=$1 usage=${ekus[$1]:-$2} san=${3:-} f=$tmp/$1.ext
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" > "$f"
  [[ "$usage" == none ]] || echo "extendedKeyUsage=$usage" >> "$f"
  [[ -z "$san" ]] || echo "subjectAltName=$san" >> "$f"
  echo "$f"
}

# sign CA_BASENAME NAME EXTFILE [openssl-x509-time-args...]
sign() {
  local ca=$1 name=$2 ext=$3; shift 3
  genkey "$out/$name.key"
  openssl req -new -key "$out/$name.key" -subj "$(subject "$name")" -out "$tmp/$name.csr" 2>/dev/null
  openssl x509 -req -in "$tmp/$name.csr" -CA "$out/$ca.crt" -CAkey "$out/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$ext" -out "$out/$name.crt" "$@" 2>/dev/null
}

# A throwaway "openssl ca" database: for expired certificates (x509 -req in
# OpenSSL 3.0 cannot set dates in the past) and for CRLs.
ca_db() {
  mkdir -p "$tmp/ca-db"; : > "$tmp/ca-db/index.txt"
  openssl rand -hex 8 > "$tmp/ca-db/crlnumber"
  cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $tmp/ca-db/index.txt
new_certs_dir = $tmp/ca-db
serial = $tmp/ca-db/serial
crlnumber = $tmp/ca-db/crlnumber
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
organizationalUnitName = optional
CNF
}

write_crl() {
  ca_db
  local n
  for n in "${revoked[@]}"; do
    [[ -f "$out/$n.crt" ]] || { echo "make-pki: no certificate $out/$n.crt to revoke" >&2; exit 1; }
    openssl ca -batch -config "$tmp/ca.cnf" -cert "$out/ca.crt" -keyfile "$out/ca.key" \
      -revoke "$out/$n.crt" 2>/dev/null
  done
  openssl ca -batch -config "$tmp/ca.cnf" -cert "$out/ca.crt" -keyfile "$out/ca.key" \
    -gencrl -out "$tmp/ca.crl" 2>/dev/null
  chmod 644 "$tmp/ca.crl"
  mv -f "$tmp/ca.crl" "$out/ca.crl.new" && mv -f "$out/ca.crl.new" "$out/ca.crl"
}

if ((crl_only)); then
  [[ -f "$out/ca.key" && -f "$out/ca.crt" ]] || { echo "make-pki: --crl-only needs $out/ca.key" >&2; exit 1; }
  write_crl
  echo "make-pki: wrote $out/ca.crl (revoked: ${revoked[*]:-none})"
  exit 0
fi

[[ -f "$out/ca.key" && -f "$out/ca.crt" ]] || make_ca ca "dialout test CA"
sign ca intermediary "$(ext_file intermediary serverAuth "$server_san")" -days 825
for n in "${names[@]}"; do sign ca "$n" "$(ext_file "$n" clientAuth)" -days "$days"; done
for n in "${revoked[@]}"; do
  [[ " ${names[*]} " == *" $n "* ]] || sign ca "$n" "$(ext_file "$n" clientAuth)" -days 825
done

if ((${#expired[@]})); then
  ca_db
  for n in "${expired[@]}"; do
    openssl rand -hex 16 > "$tmp/ca-db/serial"
    genkey "$out/$n.key"
    openssl req -new -key "$out/$n.key" -subj "$(subject "$n")" -out "$tmp/$n.csr" 2>/dev/null
    openssl ca -batch -config "$tmp/ca.cnf" -cert "$out/ca.crt" -keyfile "$out/ca.key" \
      -startdate 20200101000000Z -enddate 20200102000000Z -extfile "$(ext_file "$n" clientAuth)" \
      -in "$tmp/$n.csr" -out "$out/$n.crt" -notext 2>/dev/null
  done
fi

if ((${#foreign[@]})); then
  [[ -f "$out/other-ca.key" ]] || make_ca other-ca "unrelated CA"
  for n in "${foreign[@]}"; do sign other-ca "$n" "$(ext_file "$n" clientAuth)" -days 825; done
fi

((want_crl)) && write_crl
chmod 644 "$out"/*.crt
eku_list=""
for n in "${!ekus[@]}"; do eku_list+=" $n:${ekus[$n]}"; done
echo "make-pki: wrote $out (CA, intermediary [$server_san], ${names[*]} ${expired[*]:+expired: ${expired[*]}} ${foreign[*]:+other-ca: ${foreign[*]}} ${revoked[*]:+revoked in ca.crl: ${revoked[*]}}${eku_list:+ eku:$eku_list})"
