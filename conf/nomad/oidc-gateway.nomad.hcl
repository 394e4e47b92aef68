# Example Nomad job: oidc-gateway on every DMZ node.
#
# Scale-out shape. A system job runs one gateway per DMZ node. Every instance is independent: it
# fetches the documents from the Nomad servers itself, validates them, keeps its own last good copy
# in its cache, and shares no state with the other instances (nothing to replicate, no leader).
# Put the nodes behind a TCP (layer 4, TLS passthrough) load balancer, or publish their addresses
# as DNS round-robin records for the issuer's host; health-check /readyz on the private health
# port. A node given meta.dmz = "true" adds an instance; losing one loses only capacity.
#
# Prerequisites on each DMZ node:
#   - the oidc-gateway .deb installed (scripts/package): /usr/bin/oidc-gateway and the
#     oidc-gateway system user. Leave its systemd unit disabled: Nomad runs the gateway here.
#   - the Nomad client configured with   client { meta { dmz = "true" } }
#   - Nomad 1.5.3 or later: its exec driver gives a non-root task the capabilities named in cap_add
#     (here only net_bind_service, in the exec plugin's allow_caps by default).
#
# Secrets live in one Nomad variable that only this job can read (nomad/jobs/<job name>):
#   nomad tls cert create -cli        # client certificate from Nomad's CA, for mutual TLS
#   nomad var put nomad/jobs/oidc-gateway \
#     tls_fullchain=@fullchain.pem tls_private_key=@privkey.pem \
#     nomad_ca=@nomad-agent-ca.pem \
#     nomad_client_cert=@global-cli-nomad.pem nomad_client_key=@global-cli-nomad-key.pem
# All files are rendered from that one variable, so a change re-renders them together and the
# task gets one SIGHUP: the gateway reloads transactionally (a bad set is rejected, logged, and
# the running state kept).
#
# Run (the ids are those of the oidc-gateway user on the DMZ nodes, `id oidc-gateway`; create the
# user with the same ids on every node before installing the .deb, which reuses an existing one):
#   nomad job run -var gateway_uid=998 -var gateway_gid=998 \
#     -var 'nomad_servers=["https://10.0.1.10:4646","https://10.0.1.11:4646"]' \
#     conf/nomad/oidc-gateway.nomad.hcl

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "issuer" {
  description = "Nomad's oidc_issuer, byte for byte"
  type        = string
  default     = "https://oidc.example.com"
}

variable "nomad_servers" {
  description = "Nomad server API addresses, tried in turn"
  type        = list(string)
  default     = ["https://10.0.1.10:4646", "https://10.0.1.11:4646"]
}

variable "gateway_uid" {
  description = "uid of the oidc-gateway user on the DMZ nodes: owner of the rendered keys"
  type        = number
}

variable "gateway_gid" {
  description = "gid of the oidc-gateway group on the DMZ nodes"
  type        = number
}

job "oidc-gateway" {
  datacenters = var.datacenters
  type        = "system"

  constraint {
    attribute = "${meta.dmz}"
    value     = "true"
  }

  # One node at a time, so the load balancer always has the others.
  update {
    max_parallel = 1
    stagger      = "30s"
  }

  group "edge" {
    network {
      # Host network: the gateway binds the node's own address. To keep health off the public
      # interface, define client host_network blocks and add host_network = "..." to each port.
      mode = "host"
      port "https" {
        static = 443
      }
      port "health" {
        static = 8080
      }
    }

    # The cache survives job updates and restarts on the same node, so a restarted gateway serves
    # its last good documents at once even while the Nomad servers are unreachable.
    ephemeral_disk {
      sticky = true
      size   = 64
    }

    # The load balancer's pool. The check is readiness; no check_restart: a gateway that is not
    # ready is waiting for an upstream, and restarting it would not help.
    service {
      name     = "oidc-gateway"
      provider = "nomad"
      port     = "https"

      check {
        name     = "ready"
        type     = "http"
        port     = "health"
        path     = "/readyz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "gateway" {
      driver = "exec"
      # Started unprivileged with only CAP_NET_BIND_SERVICE (as the systemd unit does), so the
      # config has no "user". With raw_exec instead, the task would start as root and the config
      # would need "user": "oidc-gateway" to drop privileges after binding.
      user = "oidc-gateway"

      config {
        command  = "/usr/bin/oidc-gateway"
        args     = ["serve", "--config", "${NOMAD_TASK_DIR}/gateway.json"]
        cap_drop = ["all"]
        cap_add  = ["net_bind_service"]
      }

      # SIGTERM drains gracefully within the gateway's shutdown_timeout (10s by default).
      kill_signal  = "SIGTERM"
      kill_timeout = "15s"

      resources {
        cpu    = 500
        memory = 256
      }

      template {
        destination   = "local/gateway.json"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        data          = <<-EOT
          {
            "listen": ["{{ env "NOMAD_ADDR_https" }}"],
            "health_listen": "{{ env "NOMAD_ADDR_health" }}",
            "tls": {
              "certificates": [
                {
                  "certificate": "{{ env "NOMAD_SECRETS_DIR" }}/fullchain.pem",
                  "private_key": "{{ env "NOMAD_SECRETS_DIR" }}/privkey.pem"
                }
              ]
            },
            "cache_dir": "{{ env "NOMAD_ALLOC_DIR" }}/data",
            "issuers": [
              {
                "issuer": ${jsonencode(var.issuer)},
                "upstreams": ${jsonencode(var.nomad_servers)},
                "upstream_tls": {
                  "ca": "{{ env "NOMAD_SECRETS_DIR" }}/nomad-ca.pem",
                  "certificate": "{{ env "NOMAD_SECRETS_DIR" }}/nomad-client.pem",
                  "private_key": "{{ env "NOMAD_SECRETS_DIR" }}/nomad-client-key.pem",
                  "server_name": "server.global.nomad"
                }
              }
            ]
          }
        EOT
      }

      # Public certificate chain (leaf first) and its key, served on :443.
      template {
        destination   = "secrets/fullchain.pem"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        perms         = "0440"
        uid           = var.gateway_uid
        gid           = var.gateway_gid
        data          = "{{ with nomadVar \"nomad/jobs/oidc-gateway\" }}{{ .tls_fullchain }}{{ end }}"
      }

      template {
        destination   = "secrets/privkey.pem"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        perms         = "0400"
        uid           = var.gateway_uid
        gid           = var.gateway_gid
        data          = "{{ with nomadVar \"nomad/jobs/oidc-gateway\" }}{{ .tls_private_key }}{{ end }}"
      }

      # Nomad's CA and a client certificate it signed: the mutual TLS towards the Nomad API.
      template {
        destination   = "secrets/nomad-ca.pem"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        perms         = "0440"
        uid           = var.gateway_uid
        gid           = var.gateway_gid
        data          = "{{ with nomadVar \"nomad/jobs/oidc-gateway\" }}{{ .nomad_ca }}{{ end }}"
      }

      template {
        destination   = "secrets/nomad-client.pem"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        perms         = "0440"
        uid           = var.gateway_uid
        gid           = var.gateway_gid
        data          = "{{ with nomadVar \"nomad/jobs/oidc-gateway\" }}{{ .nomad_client_cert }}{{ end }}"
      }

      template {
        destination   = "secrets/nomad-client-key.pem"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        perms         = "0400"
        uid           = var.gateway_uid
        gid           = var.gateway_gid
        data          = "{{ with nomadVar \"nomad/jobs/oidc-gateway\" }}{{ .nomad_client_key }}{{ end }}"
      }
    }
  }
}
