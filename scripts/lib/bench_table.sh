# shellcheck shell=bash
# Sourced by scripts/bench: medians over the rounds, ratios, and the tables (text and markdown),
# from the lines measure_load and measure_idle wrote to $results.

median() {  # median of the column COLUMN for TEST SERVER
  awk -F'\t' -v t="$1" -v s="$2" -v c="$3" '$2 == t && $3 == s {print $c}' "$results" | sort -g |
    awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
         else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0) printf "%.2f", a / b; else print "-"}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u / 1000}'; }
whole() { awk -v v="$1" 'BEGIN {if (v == "nan") print "-"; else printf "%.0f", v}'; }
declare -A test_title=([keepalive]="keep-alive GET" [full]="new conn, full handshake"
  [resumed]="new conn, resumed" [idle]="idle conns")

title_of() {  # title_of TEST: its name in the tables
  local base suffix=
  base=$(base_test "$1")
  case ${1#"$base"} in
    -i*) suffix=", ${1#*-i} issuers" ;;
    -k*) suffix=", ${1#*-k} keys" ;;
    -w*) suffix=", ${1#*-w} workers" ;;
    -large) suffix=", $idle_large" ;;
  esac
  echo "${test_title[$base]}$suffix"
}
row_of() {  # row_of TEST SERVER: a row of the first two tables
  local test=$1 server=$2 base label
  base=$(base_test "$test")
  label=$(label_of "$(instance_of "$server" "$test")")
  if [[ $base == idle ]]; then
    echo "$(title_of "$test")|$label|-|-|-|-|-|-|$(median "$test" "$server" 8)"
  elif [[ $base == keepalive ]]; then
    echo "$(title_of "$test")|$label|$(whole "$(median "$test" "$server" 4)")|$(whole "$(median "$test" "$server" 5)")|$(ms "$(median "$test" "$server" 6)")|$(ms "$(median "$test" "$server" 7)")|-|-|-"
  else
    echo "$(title_of "$test")|$label|$(whole "$(median "$test" "$server" 4)")|$(whole "$(median "$test" "$server" 5)")|$(ms "$(median "$test" "$server" 6)")|$(ms "$(median "$test" "$server" 7)")|$(median "$test" "$server" 9)%|$(median "$test" "$server" 10)|-"
  fi
}
ratio_row_of() {  # ratio_row_of TEST NGINX_SERVER
  if [[ $(base_test "$1") == idle ]]; then
    echo "$(title_of "$1")|gateway/$2|-|-|$(ratio "$(median "$1" gateway 8)" "$(median "$1" "$2" 8)")"
  else
    echo "$(title_of "$1")|gateway/$2|$(ratio "$(median "$1" gateway 5)" "$(median "$1" "$2" 5)")|$(ratio "$(median "$1" gateway 7)" "$(median "$1" "$2" 7)")|-"
  fi
}

header="test|server instance|req/s|req per server-CPU-s|p50 ms|p99 ms|resumed|tickets per conn|RSS KiB per idle conn"
ratio_header="test|ratio|req per server-CPU-s (higher: gateway better)|p99 (lower: gateway better)|RSS per conn (lower: gateway better)"
build_tables() {  # fills rows, scale_rows, ratio_rows
  local test server nginx
  rows=() scale_rows=() ratio_rows=()
  for test in "${tests[@]}"; do
    for server in "${servers[@]}"; do rows+=("$(row_of "$test" "$server")"); done
  done
  for test in "${scale_tests[@]}"; do
    for server in "${scale_servers[@]}"; do scale_rows+=("$(row_of "$test" "$server")"); done
  done
  for test in "${tests[@]}"; do
    for nginx in nginx-static nginx-proxy; do ratio_rows+=("$(ratio_row_of "$test" "$nginx")"); done
  done
  for test in "${scale_tests[@]}"; do ratio_rows+=("$(ratio_row_of "$test" nginx-static)"); done
}
print_table() {  # print_table HEADER ROWS...: aligned columns
  printf '%s\n' "$@" | awk -F'|' '{for (i = 1; i <= NF; i++) {cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i)}
    if (NF > n) n = NF} END {for (r = 1; r <= NR; r++) {line = ""
    for (i = 1; i <= n; i++) line = line sprintf(i == 1 ? "%-" w[i] "s" : "  %" w[i] "s", cell[r, i]); print line}}'
}
markdown_table() {  # markdown_table ALIGNMENT HEADER ROWS...
  local alignment=$1 row
  shift
  echo "| ${1//|/ | } |"
  echo "$alignment"
  shift
  for row in "$@"; do echo "| ${row//|/ | } |"; done
}

print_report() {  # the tables on stdout, and in markdown to $markdown when asked
  local machine versions instances setup
  machine="$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), Linux $(uname -r)"
  versions="oidc-gateway $("$build/oidc-gateway" --version | awk '{print $2}'), $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}'), $(openssl version | awk '{print $1, $2}')"
  instances="[resumption on]: tickets and session cache as by default; [resumption off]: the gateway process with tls.session_resumption false (a second process, on port $gateway_noresume_port), nginx server blocks with ssl_session_tickets off, ssl_session_cache off, NumTickets 0"
  setup="$rounds rounds (median shown), $seconds s per run, wrk -t1 -c$wrk_connections, $handshake_concurrency concurrent handshakes, $idle_connections idle connections; $negotiated"
  base_case="every row of the first table: 1 issuer, a JWKS of $usual_keys RSA-2048 keys (Nomad's usual, $usual_jwks_bytes bytes), workers 1 / worker_processes 1 on CPU 0, load generators on CPU 1"
  scale_note="How the cost grows, gateway against nginx-static doing the same job; each row as the first table's except what its name says. N issuers: one gateway process with N issuers https://localhost:$gateway_port/iK (K = 1..N, all on one authority) from upstream base paths /iK, the load on the last one's JWKS (/iN$jwks_path); nginx-static with N generated location blocks, a static copy each. 100 keys: an upstream whose JWKS has $many_keys RSA-2048 keys ($many_jwks_bytes bytes), gateway processes and nginx-static of their own. idle conns, $idle_large: $idle_large idle connections instead of $idle_connections$idle_large_note. 2 workers: gateway workers 2 and nginx worker_processes 2, neither pinned, nor the load generator: two cores shared with the load generator, not two cores for the server"
  echo
  echo "oidc-gateway vs nginx — $setup"
  echo "machine: $machine; $versions"
  echo
  print_table "$header" "${rows[@]}"
  echo "$instances"
  echo "JWKS and workers: $base_case"
  echo
  print_table "$header" "${scale_rows[@]}"
  echo "$scale_note"
  echo
  print_table "$ratio_header" "${ratio_rows[@]}"
  echo
  echo "gateways: $rejected connections rejected by their limits, $handshake_failures failed handshakes"
  if [[ -n "$markdown" ]]; then
    {
      echo "Command: \`$command_line\` — $setup."
      echo
      echo "Machine: $machine. Versions: $versions."
      echo
      markdown_table "|---|---|---:|---:|---:|---:|---:|---:|---:|" "$header" "${rows[@]}"
      echo
      echo "$instances."
      echo
      echo "JWKS and workers: $base_case."
      echo
      markdown_table "|---|---|---:|---:|---:|---:|---:|---:|---:|" "$header" "${scale_rows[@]}"
      echo
      echo "$scale_note."
      echo
      markdown_table "|---|---|---:|---:|---:|" "$ratio_header" "${ratio_rows[@]}"
    } >"$markdown"
    log "wrote $markdown"
  fi
}
