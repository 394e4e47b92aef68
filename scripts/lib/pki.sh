# Throwaway certificate authorities for scripts/demo and scripts/measure-rotation (sourced).
# make_ca DIR NAME: a self-signed EC P-256 CA in DIR/ca.pem, DIR/ca-key.pem
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$2" -keyout "$1/ca-key.pem" -out "$1/ca.pem" 2>/dev/null
}
# issue DIR NAME SAN EKU: a certificate DIR/NAME.pem and key DIR/NAME-key.pem from DIR's CA
issue() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1/$2-key.pem" -out "$1/$2.csr" 2>/dev/null
  openssl x509 -req -in "$1/$2.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" -CAcreateserial \
    -days 2 -out "$1/$2.pem" \
    -extfile <(printf "subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n" "$3" "$4") \
    2>/dev/null
}
# make_demo_pki DIR: Nomad's private CA (server + gateway client) and a stand-in public CA
# (localhost), laid out as conf/demo.json expects.
make_demo_pki() {
  mkdir -p "$1/nomad" "$1/public"
  make_ca "$1/nomad" "Nomad Agent CA (throwaway)"
  issue "$1/nomad" server.global.nomad "DNS:server.global.nomad,DNS:localhost,IP:127.0.0.1" serverAuth
  issue "$1/nomad" gateway-client "DNS:oidc-gateway" clientAuth
  make_ca "$1/public" "Throwaway Public CA"
  issue "$1/public" localhost "DNS:localhost,IP:127.0.0.1" serverAuth
  cat "$1/public/localhost.pem" >"$1/public/localhost-fullchain.pem"
}
