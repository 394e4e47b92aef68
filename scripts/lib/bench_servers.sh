# shellcheck shell=bash
# Sourced by scripts/bench: the servers it measures, their configuration, start and stop, and the
# checks that every server serves the same bytes and fields and resumes sessions (or not) as its
# instance says. Uses the script's globals (root, work, build, ports, pids, ...).

wait_for() {  # wait_for WHAT COMMAND...: up to 10 s
  wait_for_seconds 10 "$@"
}
wait_for_seconds() {  # wait_for_seconds SECONDS WHAT COMMAND...
  local tries=$(($1 * 20)) what=$2
  shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "bench: $what did not start" >&2
  return 1
}

# --- configuration ----------------------------------------------------------------------------
# The gateway template's issuer object, repeated once per issuer (issuer_count): path "" for one
# issuer, /iK for issuer K of several. Other templates pass through.
expand_issuers() {  # expand_issuers TEMPLATE
  awk -v n="${issuer_count:-1}" '
    /-- issuer, repeated --/ {inblock = 1; print; next}
    /-- end of issuer --/ {
      for (k = 1; k <= n; k++) {
        path = n == 1 ? "" : "/i" k
        for (i = 1; i <= lines; i++) {
          line = block[i]; gsub(/@ISSUER_PATH@/, path, line)
          if (i == lines && k < n) line = line ","
          print line
        }
      }
      inblock = 0; lines = 0; print; next
    }
    inblock {block[++lines] = $0; next}
    {print}' "$1"
}
fill_template() {  # fill_template TEMPLATE OUTPUT
  local connections=$((max_idle_connections + 1000))
  # nginx starts closing idle keep-alive connections once fewer than 1/16 of its
  # worker_connections are free ("worker_connections are not enough, reusing connections").
  # Its descriptor limit covers them where the hard limit allows, so it does not warn.
  local nginx_connections=$((max_idle_connections * 16 / 15 + 200))
  local nginx_files=$((nginx_connections > needed_files ? nginx_connections : needed_files))
  if [[ $hard_files != unlimited ]] && ((nginx_files > hard_files)); then nginx_files=$hard_files; fi
  expand_issuers "$1" | sed -e "s|@WORK@|$work|g" -e "s|@GATEWAY_PORT@|$gateway_port|g" \
    -e "s|@LISTEN_PORT@|${listen_port:-}|g" -e "s|@HEALTH_PORT@|${instance_health_port:-}|g" \
    -e "s|@CACHE_DIR@|${cache_dir:-}|g" -e "s|@SESSION_RESUMPTION@|${session_resumption:-}|g" \
    -e "s|@UPSTREAM_PORT@|${instance_upstream_port:-$upstream_port}|g" \
    -e "s|@WORKERS@|${workers:-1}|g" -e "s|@NGINX_WORKERS@|${nginx_workers:-1}|g" \
    -e "s|@NGINX_DIR@|${nginx_dir:-}|g" -e "s|@SCALE_PORT@|${scale_port:-}|g" \
    -e "s|@SCALE_FULL_PORT@|${scale_full_port:-}|g" \
    -e "s|@DOC_PATH@|${doc_path:-}|g" -e "s|@DOC_ETAG@|${doc_etag:-}|g" \
    -e "s|@STATIC_PORT@|$static_port|g" -e "s|@STATIC_FULL_PORT@|$static_full_port|g" \
    -e "s|@PROXY_PORT@|$proxy_port|g" -e "s|@PROXY_FULL_PORT@|$proxy_full_port|g" \
    -e "s|@MAX_CONNECTIONS@|$connections|g" -e "s|@NOFILE@|$nginx_files|g" \
    -e "s|@WORKER_CONNECTIONS@|$nginx_connections|g" \
    -e "s|@USER_DIRECTIVE@|${user_directive:-}|g" -e "s|@JWKS_ETAG@|${jwks_etag:-}|g" \
    -e "s|@DISCOVERY_ETAG@|${discovery_etag:-}|g" -e "s|@LAST_MODIFIED@|${last_modified:-}|g" \
    >"$2"
  if grep -q '@[A-Z_]*@' "$2"; then
    echo "bench: unfilled placeholder in $2" >&2
    exit 1
  fi
}

# --- gateways -----------------------------------------------------------------------------------
# Every gateway process by name: its listen and health ports (gateway_listen, gateway_health).
# "gateway" and "gateway-noresume" publish the one issuer (https://localhost:$gateway_port, which
# fake_nomad announces) with session resumption on and off; the scaling rows' processes are
# gateway-CASE and gateway-CASE-noresume (CASE: i10, i100, k100, w2). Each has its own cache
# directory. pid_of holds the running servers' ids by name (gateways and nginx instances).
declare -A gateway_listen=() gateway_health=() pid_of=() scale_ports=()
# write_gateway_config NAME LISTEN_PORT HEALTH_PORT true|false [WORKERS [ISSUERS [UPSTREAM_PORT]]]
write_gateway_config() {
  local listen_port=$2 instance_health_port=$3 session_resumption=$4 workers=${5:-1}
  local issuer_count=${6:-1} instance_upstream_port=${7:-$upstream_port} cache_dir=cache-${1#gateway-}
  [[ $1 == gateway ]] && cache_dir=cache
  mkdir -p "$cache_dir"
  gateway_listen[$1]=$listen_port
  gateway_health[$1]=$instance_health_port
  fill_template "$root/conf/bench/gateway.json.in" "$1.json"
  "$build/oidc-gateway" check --config "$1.json" >"check-$1.json.log" 2>&1 ||
    { cat "check-$1.json.log" >&2; exit 1; }
}
health_port_of() {  # health_port_of GATEWAY_NAME
  echo "${gateway_health[$1]}"
}
unpinned() {  # unpinned NAME: the two-worker rows' servers share both CPUs with the load
  [[ $1 == *-w2 || $1 == *-w2-* ]]
}
start_gateway() {  # start_gateway NAME: sets pid_of[NAME]
  local pin=(taskset -c 0)
  if unpinned "$1"; then pin=(); fi
  "${pin[@]}" "$build/oidc-gateway" serve --config "$1.json" 2>>"$1.log" &
  pid_of[$1]=$!
  pids+=("$!")
  wait_for_seconds 30 "$1" curl -fsS --max-time 10 "http://127.0.0.1:$(health_port_of "$1")/readyz" ||
    { cat "$1.log" >&2; exit 1; }
}
# Connections the gateways' limits refused and handshakes that failed, over every gateway
# process of the run (several are restarted during it): the limits must refuse nothing.
rejected=0
handshake_failures=0
count_gateway_refusals() {  # count_gateway_refusals GATEWAY_NAME
  local metrics
  metrics=$(curl -fsS --max-time 10 "http://127.0.0.1:$(health_port_of "$1")/metrics")
  rejected=$((rejected + $(echo "$metrics" |
    awk '/^oidc_gateway_connections_rejected_total/ {n += $NF} END {print n + 0}')))
  local failed
  failed=$(echo "$metrics" | awk '/^oidc_gateway_tls_handshake_failures_total/ {n += $NF} END {print n + 0}')
  handshake_failures=$((handshake_failures + failed))
  if ((failed > 0)); then log "$1: $failed failed handshakes"; fi
}
stop_server() {  # stop_server PID: SIGTERM (both stop at once when idle), then reap it
  local name
  for name in "${!pid_of[@]}"; do
    [[ ${pid_of[$name]} == "$1" ]] || continue
    if [[ $name == gateway* ]]; then count_gateway_refusals "$name"; fi
    unset "pid_of[$name]"
  done
  kill "$1"
  wait "$1" || true
  forget_pid "$1"
}
stop_named() {  # stop_named NAME...: those of them running
  local name
  for name in "$@"; do
    if [[ -n ${pid_of[$name]:-} ]]; then stop_server "${pid_of[$name]}"; fi
  done
}

# --- fetching and comparing -------------------------------------------------------------------
jwks_path=/.well-known/jwks.json
discovery_path=/.well-known/openid-configuration
declare -A gateway_ports=()  # every gateway's listen port: they answer only for their issuer
authority_for() {  # authority_for PORT: the Host to send there
  if [[ -n ${gateway_ports[$1]:-} ]]; then echo "localhost:$gateway_port"; else echo "localhost:$1"; fi
}
fetch() {  # fetch PORT PATH HEADERS_OUT BODY_OUT
  curl -fsS --max-time 10 --cacert public/ca.pem --resolve "localhost:$1:127.0.0.1" -D "$3" -o "$4" \
    "https://localhost:$1$2"
}
fetch_gateway() {  # fetch_gateway GATEWAY_NAME PATH HEADERS_OUT BODY_OUT: with the issuer's Host
  curl -fsS --max-time 10 --cacert public/ca.pem -D "$3" -o "$4" \
    --connect-to "localhost:$gateway_port:127.0.0.1:${gateway_listen[$1]}" \
    "https://localhost:$gateway_port$2"
}
field() {  # field FILE NAME: a header field's value
  awk -v name="$(echo "$2" | tr 'A-Z' 'a-z')" -F': ' \
    'tolower($1) == name { sub(/\r$/, "", $2); print $2; exit }' "$1"
}
# The same bytes and fields from every server (Date differs; nginx adds Server and Connection).
fields_of() { grep -iv '^\(date\|server\|connection\|http/\)' "$1" | tr -d '\r' | sort; }
check_same() {  # check_same PORT PATH GATEWAY_HEAD BODY WHAT: nginx on PORT serves BODY so
  local port=$1 path=$2 tag
  tag=$(echo "$path" | tr -c 'A-Za-z0-9\n' _)
  fetch "$port" "$path" "nginx-$port-$tag.head" "nginx-$port-$tag.body"
  cmp -s "nginx-$port-$tag.body" "$4" ||
    { echo "bench: nginx on $port serves other $5 bytes than the gateway" >&2; exit 1; }
  if ! diff <(fields_of "$3") <(fields_of "nginx-$port-$tag.head") >"fields-$port-$tag.diff"; then
    echo "bench: nginx on $port sends other $5 fields than the gateway:" >&2
    cat "fields-$port-$tag.diff" >&2
    exit 1
  fi
}

# --- nginx ----------------------------------------------------------------------------------
# "nginx" (nginx/nginx.conf: nginx-static and nginx-proxy) and the scaling rows' nginx-CASE
# (nginx-CASE/nginx.conf from scale.conf.in), each in its own prefix.
declare -A nginx_wait_ports=()  # NAME: "PORT:PATH ..." that must answer before it counts as up
start_nginx() {  # start_nginx [NAME]: sets pid_of[NAME]
  local name=${1:-nginx} pin=(taskset -c 0) check
  if unpinned "$name"; then pin=(); fi
  "${pin[@]}" nginx -p "$work/$name/" -e "$work/$name/error.log" -c "$work/$name/nginx.conf" &
  pid_of[$name]=$!
  pids+=("$!")
  for check in ${nginx_wait_ports[$name]}; do
    wait_for "$name on ${check%%:*}" fetch "${check%%:*}" "${check#*:}" /dev/null /dev/null ||
      { cat "$name/error.log" >&2; exit 1; }
  done
}
write_main_nginx() {
  user_directive=
  if (($(id -u) == 0)); then user_directive="user nobody nogroup;"; fi
  for name in nginx static proxy http; do
    fill_template "$root/conf/bench/$name.conf.in" "nginx/$name.conf"
  done
  mkdir -p nginx/client_body nginx/proxy_temp nginx/fastcgi nginx/uwsgi nginx/scgi
  if (($(id -u) == 0)); then chown -R nobody:nogroup nginx/cache nginx/proxy_temp nginx/client_body; fi
  nginx -t -q -p "$work/nginx/" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
  nginx_wait_ports[nginx]="$static_port:$jwks_path $proxy_port:$jwks_path"
}

# --- resumption, checked with an independent client (openssl s_client) -----------------------
# A session saved from one connection is offered on the next: the [resumption on] instances
# must resume it and send a TLS 1.3 ticket; the [resumption off] ones must send no ticket and
# resume nothing.
s_client() {  # s_client PORT ARGS...: one request, the handshake summary
  local port=$1
  shift
  printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$jwks_path" "$(authority_for "$port")" |
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost -ign_eof "$@" 2>&1 ||
    true
}
check_resumption() {  # check_resumption PORT yes|no
  rm -f session.pem
  s_client "$1" -sess_out session.pem >"s_client-$1-first.txt"
  # s_client prints each TLS 1.3 ticket (NewSessionTicket) as it arrives.
  if grep -q '^New, TLSv1.3' "s_client-$1-first.txt"; then
    if grep -q 'New Session Ticket arrived' "s_client-$1-first.txt"; then
      [[ $2 == yes ]] || { echo "bench: port $1 sent a session ticket although it should not" >&2; exit 1; }
    else
      [[ $2 == no ]] || { echo "bench: port $1 sent no session ticket" >&2; exit 1; }
    fi
  fi
  if [[ ! -s session.pem ]]; then
    [[ $2 == no ]] && return 0
    echo "bench: no session from port $1" >&2
    exit 1
  fi
  s_client "$1" -sess_in session.pem >"s_client-$1-second.txt"
  if grep -q '^Reused,' "s_client-$1-second.txt"; then
    [[ $2 == yes ]] || { echo "bench: port $1 resumed a session although it should not" >&2; exit 1; }
  else
    [[ $2 == no ]] || { echo "bench: port $1 did not resume a session" >&2; exit 1; }
  fi
}
check_negotiates() {  # check_negotiates PORT...: what the main gateway negotiates ($negotiated)
  local port
  for port in "$@"; do
    [[ $(grep -m1 '^New, ' "s_client-$port-first.txt" | sed 's/^New, //') == "$negotiated" ]] ||
      { echo "bench: port $port negotiates other than the gateway ($negotiated)" >&2; exit 1; }
  done
}

# --- the scaling rows' servers --------------------------------------------------------------
# case_gateways CASE: its gateway processes; started with its nginx just before its tests.
case_gateways() {
  case $1 in
    k100 | w2) echo "gateway-$1 gateway-$1-noresume" ;;
    *) echo "gateway-$1" ;;
  esac
}
start_case() {  # start_case CASE
  local name
  for name in $(case_gateways "$1"); do start_gateway "$name"; done
  start_nginx "nginx-$1"
}
stop_case() {  # stop_case CASE
  # shellcheck disable=SC2046
  stop_named $(case_gateways "$1") "nginx-$1"
}
# prepare_case CASE PORT_OFFSET: writes its gateways' configuration (listen and health ports from
# port_base + PORT_OFFSET on, nginx's two after them), starts the gateways, copies what they
# serve into nginx-CASE/www with their fields, starts nginx, checks bytes, fields and resumption,
# and stops both again.
prepare_case() {
  local case=$1 port=$((port_base + $2)) name issuers=1 workers=1 upstream=$upstream_port
  local nginx_dir=$work/nginx-$1 nginx_workers=1 scale_port scale_full_port doc_path doc_etag
  local documents=() k head
  case $case in
    i*) issuers=${case#i} ;;
    k100) upstream=$many_keys_upstream_port ;;
    w2) workers=2 nginx_workers=2 ;;
  esac
  write_gateway_config "gateway-$case" "$port" $((port + 1)) true "$workers" "$issuers" "$upstream"
  if [[ $case == k100 || $case == w2 ]]; then
    write_gateway_config "gateway-$case-noresume" $((port + 2)) $((port + 3)) false "$workers" 1 "$upstream"
    port=$((port + 2))
  fi
  scale_port=$((port + 2)) scale_full_port=$((port + 3))
  for name in $(case_gateways "$case"); do
    gateway_ports[${gateway_listen[$name]}]=1
    start_gateway "$name"
  done
  mkdir -p "$nginx_dir/www"
  if [[ $case == i* ]]; then
    # The same JWKS for every issuer: the first's and the last's compared, the last's fields.
    fetch_gateway "gateway-$case" "/i1$jwks_path" /dev/null "$nginx_dir/first-jwks.json"
    head=$nginx_dir/gateway-jwks.head
    fetch_gateway "gateway-$case" "/i$issuers$jwks_path" "$head" "$nginx_dir/jwks.json"
    cmp -s "$nginx_dir/first-jwks.json" "$nginx_dir/jwks.json" ||
      { echo "bench: gateway-$case serves other JWKS bytes for /i1 and /i$issuers" >&2; exit 1; }
    for k in $(seq "$issuers"); do documents+=("/i$k$jwks_path"); done
  else
    head=$nginx_dir/gateway-jwks.head
    fetch_gateway "gateway-$case" "$jwks_path" "$head" "$nginx_dir/jwks.json"
    fetch_gateway "gateway-$case" "$discovery_path" "$nginx_dir/gateway-discovery.head" \
      "$nginx_dir/discovery.json"
    documents=("$jwks_path" "$discovery_path")
    if [[ $case == w2 ]]; then
      cmp -s "$nginx_dir/jwks.json" "www$jwks_path" ||
        { echo "bench: gateway-w2 serves other JWKS bytes than gateway" >&2; exit 1; }
    fi
    fetch_gateway "gateway-$case-noresume" "$jwks_path" /dev/null "$nginx_dir/noresume-jwks.json"
    cmp -s "$nginx_dir/noresume-jwks.json" "$nginx_dir/jwks.json" ||
      { echo "bench: gateway-$case and gateway-$case-noresume serve other JWKS bytes" >&2; exit 1; }
  fi
  : >"$nginx_dir/locations.conf"
  for doc_path in "${documents[@]}"; do
    mkdir -p "$nginx_dir/www$(dirname "$doc_path")"
    if [[ $doc_path == "$discovery_path" ]]; then
      cp "$nginx_dir/discovery.json" "$nginx_dir/www$doc_path"
      doc_etag=$(field "$nginx_dir/gateway-discovery.head" ETag)
    else
      cp "$nginx_dir/jwks.json" "$nginx_dir/www$doc_path"
      doc_etag=$(field "$head" ETag)
    fi
    touch -d "$(field "$head" Last-Modified)" "$nginx_dir/www$doc_path"
    fill_template "$root/conf/bench/static-location.conf.in" "$nginx_dir/location.tmp"
    grep -v '^#' "$nginx_dir/location.tmp" >>"$nginx_dir/locations.conf"
  done
  rm -f "$nginx_dir/location.tmp"
  chmod -R a+rX "$nginx_dir/www"
  fill_template "$root/conf/bench/scale.conf.in" "$nginx_dir/nginx.conf"
  nginx -t -q -p "$nginx_dir/" -e "$nginx_dir/error.log" -c "$nginx_dir/nginx.conf"
  nginx_wait_ports[nginx-$case]="$scale_port:${documents[0]} $scale_full_port:${documents[0]}"
  scale_ports[$case]="$scale_port $scale_full_port"
  start_nginx "nginx-$case"
  local loaded=$jwks_path
  if [[ $case == i* ]]; then loaded=/i$issuers$jwks_path; fi
  check_same "$scale_port" "$loaded" "$head" "$nginx_dir/jwks.json" JWKS
  if [[ $case != i* ]]; then
    check_same "$scale_port" "$discovery_path" "$nginx_dir/gateway-discovery.head" \
      "$nginx_dir/discovery.json" discovery
    check_resumption "${gateway_listen[gateway-$case]}" yes
    check_resumption "${gateway_listen[gateway-$case-noresume]}" no
    check_resumption "$scale_port" yes
    check_resumption "$scale_full_port" no
    check_negotiates "${gateway_listen[gateway-$case]}" "${gateway_listen[gateway-$case-noresume]}" \
      "$scale_port" "$scale_full_port"
  fi
  local what=
  if ((issuers > 1)); then what=" for each of $issuers issuers"; fi
  log "$case: gateway and nginx-static serve the same $(jwks_keys "$nginx_dir/jwks.json")-key JWKS ($(wc -c <"$nginx_dir/jwks.json") bytes)$what"
  stop_case "$case"
}
jwks_keys() {  # jwks_keys FILE: how many keys a JWKS holds
  grep -o '"kid"' "$1" | wc -l
}
