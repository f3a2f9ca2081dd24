#!/usr/bin/env bash
# Makes a development cluster CA and node and client certificates with the
# openssl command, in the layout trolleyd and the tools expect (docs/operations.md,
# "TLS and authentication"). For development and tests: the CA key sits next to
# the certificates; a production CA keeps its key elsewhere.
#
#   dev-certs.sh DIR ca                    DIR/ca.pem, DIR/ca.key (kept if present)
#   dev-certs.sh DIR node ID               DIR/node-ID.pem/.key: subjectAltName
#                                          URI trolley:node:ID (CN=ID); a node uses it
#                                          both to serve and to dial its peers
#   dev-certs.sh DIR client NAME ROLE      DIR/client-NAME.pem/.key: ROLE is read or
#                                          write (URI trolley:client:ROLE, CN=NAME)
#   dev-certs.sh DIR cluster ID...         the CA, one node certificate per ID, and the
#                                          clients "admin" (write) and "reader" (read)
#
# Keys are EC P-256 (fast handshakes), private files mode 0600; certificates
# are valid for 825 days. Needs only the openssl command (Debian: openssl).
set -euo pipefail

usage() { sed -n '2,18p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
dir=$1 what=$2
shift 2
mkdir -p "$dir"
umask 077

make_ca() {
  [ -s "$dir/ca.pem" ] && [ -s "$dir/ca.key" ] && return 0
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 -subj "/CN=Trolley development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  chmod 0644 "$dir/ca.pem"
}

# make_leaf FILE_STEM CN URI
make_leaf() {
  local stem=$1 cn=$2 uri=$3
  [ -s "$dir/ca.key" ] || { echo "dev-certs: no CA in $dir (run: dev-certs.sh $dir ca)" >&2; exit 1; }
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$stem.key" -out "$dir/$stem.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=URI:$uri" >"$dir/$stem.ext"
  openssl x509 -req -in "$dir/$stem.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -CAserial "$dir/ca.srl" -days 825 -extfile "$dir/$stem.ext" \
    -out "$dir/$stem.pem" 2>/dev/null
  rm -f "$dir/$stem.csr" "$dir/$stem.ext"
  chmod 0644 "$dir/$stem.pem"
}

case "$what" in
  ca) make_ca ;;
  node)
    [ $# -eq 1 ] || usage
    make_leaf "node-$1" "$1" "trolley:node:$1" ;;
  client)
    [ $# -eq 2 ] || usage
    case "$2" in read|write) ;; *) echo "dev-certs: role must be read or write" >&2; exit 2 ;; esac
    make_leaf "client-$1" "$1" "trolley:client:$2" ;;
  cluster)
    [ $# -ge 1 ] || usage
    make_ca
    for id in "$@"; do make_leaf "node-$id" "$id" "trolley:node:$id"; done
    make_leaf client-admin admin trolley:client:write
    make_leaf client-reader reader trolley:client:read ;;
  *) usage ;;
esac
