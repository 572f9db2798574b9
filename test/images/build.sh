#!/usr/bin/env bash
# Build local stand-ins for the official Docker Hub base images that wsenv uses,
# from Debian bookworm packages, without any image registry:
#
#   wsenv-test/nginx:bookworm          stands in for nginx:1.27
#   wsenv-test/php:apache-bookworm     stands in for php:8.3-apache
#   wsenv-test/node:bookworm           stands in for node:20
#   wsenv-test/tomcat:bookworm         stands in for tomcat:10.1
#   wsenv-test/haproxy:bookworm        stands in for haproxy:2.6 (the bench only)
#   wsenv-test/caddy:bookworm          stands in for caddy:2.6 (the bench only)
#
# Each image is a `debootstrap --variant=minbase` tree, upgraded from
# bookworm-updates/-security, customised to mimic the official image's
# interface (paths, users, helper scripts, CMD/ENTRYPOINT/ENV/...), then
# `docker import`ed.  See test/images/README.md.
#
# Usage: test/images/build.sh [--force] [nginx|php|node|tomcat|haproxy|caddy ...]
#   Builds the named images (default: all).  An image whose tag already exists
#   is skipped unless --force is given.  Needs root, debootstrap and a running
#   Docker engine; downloads Debian packages from the mirror configured in
#   /etc/apt/sources.list.d/debian.sources (default http://deb.debian.org/debian).
#
# Environment overrides: WSENV_DEBIAN_MIRROR, WSENV_DEBIAN_SECURITY_MIRROR,
# WSENV_TEST_IMAGE_PREFIX (default "wsenv-test").
#
# (Single-quoted scripts below are run by a shell inside the image tree.)
# shellcheck disable=SC2016
set -euo pipefail

readonly SUITE=bookworm
readonly PREFIX=${WSENV_TEST_IMAGE_PREFIX:-wsenv-test}
readonly ALL_IMAGES=(nginx php node tomcat haproxy caddy)
readonly SOURCES_FILE=/etc/apt/sources.list.d/debian.sources
readonly DEFAULT_MIRROR=http://deb.debian.org/debian
readonly DEFAULT_SECURITY_MIRROR=http://deb.debian.org/debian-security
readonly STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---------------------------------------------------------------- helpers --

die() { echo "build.sh: error: $*" >&2; exit 1; }
note() { echo "build.sh: [$CUR] $*" >&2; }

usage() {
  sed -n '2,/^# (Single/{/^# (Single/q;s/^# \{0,1\}//p}' "$0"
}

image_ref() {
  case "$1" in
    nginx) echo "$PREFIX/nginx:bookworm" ;;
    php) echo "$PREFIX/php:apache-bookworm" ;;
    node) echo "$PREFIX/node:bookworm" ;;
    tomcat) echo "$PREFIX/tomcat:bookworm" ;;
    haproxy) echo "$PREFIX/haproxy:bookworm" ;;
    caddy) echo "$PREFIX/caddy:bookworm" ;;
    *) return 1 ;;
  esac
}

mimics() {
  case "$1" in
    nginx) echo nginx:1.27 ;;
    php) echo php:8.3-apache ;;
    node) echo node:20 ;;
    tomcat) echo tomcat:10.1 ;;
    haproxy) echo haproxy:2.6 ;;
    caddy) echo caddy:2.6 ;;
  esac
}

# Debian packages given to debootstrap --include (debootstrap resolves their
# Depends, first alternative only, and no virtual packages; Recommends are
# not installed).
packages() {
  case "$1" in
    # bookworm's nginx-light is an empty transitional package (nginx + the
    # echo module), so install the real server package directly.
    nginx) echo nginx,gettext-base,curl,ca-certificates ;;
    # mbstring, xml (dom/simplexml/xmlreader/xmlwriter), curl, sqlite3 and
    # mysqlnd are compiled into the official image; Debian ships them apart.
    php) echo apache2,libapache2-mod-php,php-cli,php-mbstring,php-xml,php-curl,php-sqlite3,php-mysql,curl,ca-certificates ;;
    node) echo nodejs,curl,ca-certificates ;;
    tomcat) echo default-jre-headless,tomcat10-common,libecj-java ;;
    haproxy) echo haproxy ;;
    caddy) echo caddy ;;
  esac
}

# Packages installed afterwards with apt-get (--no-install-recommends), for
# dependency trees that debootstrap's simple resolver cannot handle: npm
# depends on virtual packages (node-has, node-color-support, ...).
apt_packages() {
  case "$1" in
    node) echo npm ;;
  esac
}

# First URI of an enabled "Types: deb" stanza of a deb822 sources file whose
# Suites list contains $1 exactly.
sources_uri() {
  [ -r "$SOURCES_FILE" ] || return 0
  awk -v want="$1" '
    function reset() { uris = ""; suites = ""; isdeb = 0; enabled = 1 }
    function flush() {
      if (!found && isdeb && enabled && uris != "" && index(" " suites " ", " " want " ")) {
        split(uris, u, " "); print u[1]; found = 1
      }
    }
    BEGIN { reset() }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); reset(); next }
    { key = tolower($1) }
    key == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") isdeb = 1; next }
    key == "uris:" { $1 = ""; uris = $0; gsub(/^[ \t]+/, "", uris); next }
    key == "suites:" { $1 = ""; suites = $0; gsub(/[ \t]+/, " ", suites); next }
    key == "enabled:" { if (tolower($2) == "no") enabled = 0; next }
    END { flush() }
  ' "$SOURCES_FILE"
}

pick_mirror() { # $1 = env override, $2 = suite to look for, $3 = fallback
  local m=${1:-}
  [ -n "$m" ] || m=$(sources_uri "$2")
  [ -n "$m" ] || m=$3
  case "$m" in http://* | https://*) ;; *) m=$3 ;; esac
  echo "${m%/}"
}

# Run a command with its output appended to the image's build log; on failure
# show the end of the log and stop.
run() {
  local rc=0
  "$@" >>"$LOG" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "build.sh: [$CUR] command failed (exit $rc): $*" >&2
    echo "---- last lines of the build log ----" >&2
    tail -n 60 "$LOG" >&2 || true
    exit "$rc"
  fi
}

# Run a command inside the image tree with a clean environment.  Everything
# that touches paths of the tree runs through chroot, so that absolute
# symlinks inside it (/var/run -> /run, ...) never resolve on the host.
in_root() {
  chroot "$ROOT" /usr/bin/env -i PATH="$STD_PATH" HOME=/root LC_ALL=C \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# put MODE PATH: write stdin to PATH inside the tree.
put() {
  in_root /bin/sh -c 'mkdir -p "$(dirname "$1")" && rm -f "$1" && cat >"$1" && chmod "$2" "$1"' \
    sh "$2" "$1"
}

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

mount_proc() {
  is_mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
}

umount_below() { # unmount everything mounted at or below $1, deepest first
  local m
  awk -v p="$1" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/mounts |
    sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

WORK=
cleanup() {
  local rc=$?
  set +e
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    umount_below "$WORK"
    if awk -v p="$WORK/" 'index($2, p) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
      echo "build.sh: warning: $WORK still has mounts, left in place" >&2
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  exit "$rc"
}

# ------------------------------------------------------- common tree steps --

# After debootstrap: apt sources for the image (main + updates + security),
# slim-image apt/dpkg settings, no service starts, then bring every package
# up to date from bookworm-updates and bookworm-security.
prepare_tree() {
  put 0644 /etc/apt/sources.list.d/debian.sources <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  in_root rm -f /etc/apt/sources.list
  # Same conventions as Debian's slim container images, so that packages
  # installed later by a Dockerfile stay lean too.
  put 0644 /etc/dpkg/dpkg.cfg.d/docker-slim <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  put 0644 /etc/apt/apt.conf.d/docker-clean <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  put 0644 /etc/apt/apt.conf.d/docker-no-languages <<'EOF'
Acquire::Languages "none";
EOF
  put 0755 /usr/sbin/policy-rc.d <<'EOF'
#!/bin/sh
exit 101
EOF
  note "apt-get update && dist-upgrade ($SUITE-updates, $SUITE-security)"
  run in_root apt-get update
  run in_root apt-get -y -o Dpkg::Options::=--force-confold --no-install-recommends dist-upgrade
}

# Remove caches, docs, logs and build-only files, then unmount /proc and
# empty /dev (Docker provides both at run time).
finish_tree() {
  run in_root /bin/sh -euc '
    rm -f /usr/sbin/policy-rc.d
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/partial/*
    find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete
    find /usr/share/doc -mindepth 1 -type d -empty -delete
    rm -rf /usr/share/man/* /usr/share/info/* /usr/share/groff/* /usr/share/lintian/* /usr/share/linda/*
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    find / -xdev -depth -type d -name __pycache__ -exec rm -rf {} +
    rm -f /var/log/*.log /var/log/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
      /var/cache/ldconfig/aux-cache
    rm -rf /tmp/* /var/tmp/* /root/.cache /root/.npm /root/.wget-hsts
    : >/etc/resolv.conf
    echo localhost >/etc/hostname
  '
  umount_below "$ROOT/proc"
  umount_below "$ROOT/sys"
  if is_mounted "$ROOT/proc" || is_mounted "$ROOT/sys" || is_mounted "$ROOT/dev"; then
    die "[$CUR] $ROOT still has mounts"
  fi
  find "$ROOT/dev" -mindepth 1 -xdev -delete
}

# ------------------------------------------------------------------ nginx --

customize_nginx() {
  # Official image: system user/group nginx with uid/gid 101.
  run in_root groupadd --system --gid 101 nginx
  run in_root useradd --system --gid nginx --uid 101 --no-create-home \
    --home-dir /nonexistent --comment "nginx user" --shell /bin/false nginx

  # Official layout only: drop Debian's sites-*/snippets and its default page.
  run in_root rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available \
    /etc/nginx/snippets /var/www /etc/logrotate.d/nginx /etc/default/nginx \
    /etc/init.d/nginx /etc/ufw /usr/share/vim /usr/share/apport
  run in_root mkdir -p /etc/nginx/conf.d /var/cache/nginx /docker-entrypoint.d
  run in_root /bin/sh -c '[ ! -d /usr/lib/nginx/modules ] || ln -sfn /usr/lib/nginx/modules /etc/nginx/modules'

  put 0644 /etc/nginx/nginx.conf <<'EOF'

user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;


events {
    worker_connections  1024;
}


http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
EOF
  put 0644 /etc/nginx/conf.d/default.conf <<'EOF'
server {
    listen       80;
    server_name  localhost;

    #access_log  /var/log/nginx/host.access.log  main;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    #error_page  404              /404.html;

    # redirect server error pages to the static page /50x.html
    #
    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
EOF
  put 0644 /usr/share/nginx/html/index.html <<'EOF'
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
EOF
  put 0644 /usr/share/nginx/html/50x.html <<'EOF'
<!DOCTYPE html>
<html>
<head>
<title>Error</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
</body>
</html>
EOF
  # Same entrypoint contract as the official image: run /docker-entrypoint.d
  # scripts when the command is nginx, print "Configuration complete; ready
  # for start up", exec the command.
  put 0755 /docker-entrypoint.sh <<'EOF'
#!/bin/sh
# vim:sw=4:ts=4:et
# Stand-in for the official nginx image's entrypoint (wsenv test image).

set -e

entrypoint_log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    if /usr/bin/find "/docker-entrypoint.d/" -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read v; then
        entrypoint_log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"

        entrypoint_log "$0: Looking for shell scripts in /docker-entrypoint.d/"
        find "/docker-entrypoint.d/" -follow -type f -print | sort -V | while read -r f; do
            case "$f" in
                *.envsh)
                    if [ -x "$f" ]; then
                        entrypoint_log "$0: Sourcing $f";
                        . "$f"
                    else
                        entrypoint_log "$0: Ignoring $f, not executable";
                    fi
                    ;;
                *.sh)
                    if [ -x "$f" ]; then
                        entrypoint_log "$0: Launching $f";
                        "$f"
                    else
                        entrypoint_log "$0: Ignoring $f, not executable";
                    fi
                    ;;
                *) entrypoint_log "$0: Ignoring $f";;
            esac
        done

        entrypoint_log "$0: Configuration complete; ready for start up"
    else
        entrypoint_log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
    fi
fi

exec "$@"
EOF
  put 0755 /docker-entrypoint.d/20-envsubst-on-templates.sh <<'EOF'
#!/bin/sh
# Stand-in for the official nginx image's template support: every
# /etc/nginx/templates/**/*.template is rendered with envsubst into
# /etc/nginx/conf.d/ (wsenv test image).

set -e

ME=$(basename "$0")

entrypoint_log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

auto_envsubst() {
  local template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
  local suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
  local output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
  local filter="${NGINX_ENVSUBST_FILTER:-}"

  local template defined_envs relative_path output_path subdir
  defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" < /dev/null ))
  [ -d "$template_dir" ] || return 0
  if [ ! -w "$output_dir" ]; then
    entrypoint_log "$ME: ERROR: $template_dir exists, but $output_dir is not writable"
    return 0
  fi
  find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative_path="${template#"$template_dir/"}"
    output_path="$output_dir/${relative_path%"$suffix"}"
    subdir=$(dirname "$relative_path")
    mkdir -p "$output_dir/$subdir"
    entrypoint_log "$ME: Running envsubst on $template to $output_path"
    envsubst "$defined_envs" < "$template" > "$output_path"
  done
}

auto_envsubst

exit 0
EOF
  # Logs go to the container's stdout/stderr, as in the official image.
  run in_root ln -sf /dev/stdout /var/log/nginx/access.log
  run in_root ln -sf /dev/stderr /var/log/nginx/error.log
}

smoke_nginx() {
  run in_root nginx -t
  run in_root /bin/sh -c 'id nginx && [ -L /var/log/nginx/access.log ]'
}

changes_nginx() {
  CHANGES=(
    "ENV PATH=$STD_PATH"
    "ENV NGINX_VERSION=$(in_root dpkg-query -W -f='${Version}' nginx | sed 's/-.*//')"
    'ENTRYPOINT ["/docker-entrypoint.sh"]'
    'CMD ["nginx", "-g", "daemon off;"]'
    'EXPOSE 80'
  )
  STOPSIGNAL=SIGQUIT
}

# -------------------------------------------------------------------- php --

customize_php() {
  # Like the official image: envvars values overridable from the environment,
  # run/lock/log dirs world-writable (arbitrary --user), empty docroot, logs
  # to stdout/stderr.
  run in_root sed -ri 's/^export ([^=]+)=(.*)$/: ${\1:=\2}\nexport \1/' /etc/apache2/envvars
  run in_root /bin/bash -euo pipefail -c '
    export APACHE_CONFDIR=/etc/apache2 APACHE_ENVVARS=/etc/apache2/envvars
    . "$APACHE_ENVVARS"
    for dir in "$APACHE_LOCK_DIR" "$APACHE_RUN_DIR" "$APACHE_LOG_DIR" "$APACHE_RUN_DIR/socks"; do
      rm -rf "$dir"
      mkdir -p "$dir"
      chown "$APACHE_RUN_USER:$APACHE_RUN_GROUP" "$dir"
      chmod 1777 "$dir"
    done
    rm -rf /var/www/html
    mkdir -p /var/www/html
    chown www-data:www-data /var/www/html
    chmod 1777 /var/www/html
    ln -sfT /dev/stderr "$APACHE_LOG_DIR/error.log"
    ln -sfT /dev/stdout "$APACHE_LOG_DIR/access.log"
    ln -sfT /dev/stdout "$APACHE_LOG_DIR/other_vhosts_access.log"
    chown -R --no-dereference "$APACHE_RUN_USER:$APACHE_RUN_GROUP" "$APACHE_LOG_DIR"
  '
  put 0644 /etc/apache2/conf-available/docker-php.conf <<'EOF'
<FilesMatch \.php$>
	SetHandler application/x-httpd-php
</FilesMatch>

DirectoryIndex disabled
DirectoryIndex index.php index.html

<Directory /var/www/>
	Options -Indexes
	AllowOverride All
</Directory>
EOF
  put 0644 /etc/apache2/conf-available/servername.conf <<'EOF'
# wsenv test image: silence "Could not reliably determine the server's FQDN".
ServerName localhost
EOF
  local phpmod
  phpmod=$(in_root /bin/sh -c 'cd /etc/apache2/mods-available && ls php*.load' | head -n1)
  phpmod=${phpmod%.load}
  [ -n "$phpmod" ] || die "[php] no php*.load in /etc/apache2/mods-available"
  run in_root a2dismod -f mpm_event
  run in_root a2enmod mpm_prefork "$phpmod"
  run in_root a2enconf docker-php servername

  # $PHP_INI_DIR as in the official image: php.ini-development/-production
  # templates, a php.ini placed there wins (PHPRC), and conf.d/*.ini is scanned
  # after Debian's own conf.d (PHP_INI_SCAN_DIR, set in the image ENV).
  run in_root /bin/sh -euc '
    mkdir -p /usr/local/etc/php/conf.d
    for f in /usr/lib/php/*/php.ini-development /usr/lib/php/*/php.ini-production; do
      [ -e "$f" ] && ln -sf "$f" /usr/local/etc/php/
    done
  '

  put 0755 /usr/local/bin/apache2-foreground <<'EOF'
#!/bin/bash
set -e

# Note: we don't just use "apache2ctl" here because it itself is just a shell-script wrapper around apache2 which provides extra functionality like "apache2ctl start" for launching apache2 in the background.
# (also, when run as "apache2ctl <apache args>", it does not use "exec", which leaves an undesirable resident shell process)

: "${APACHE_CONFDIR:=/etc/apache2}"
: "${APACHE_ENVVARS:=$APACHE_CONFDIR/envvars}"
if test -f "$APACHE_ENVVARS"; then
	. "$APACHE_ENVVARS"
fi

# Apache gets grumpy about PID files pre-existing
: "${APACHE_RUN_DIR:=/var/run/apache2}"
: "${APACHE_PID_FILE:=$APACHE_RUN_DIR/apache2.pid}"
rm -f "$APACHE_PID_FILE"

# create missing directories
# (especially APACHE_RUN_DIR, APACHE_LOCK_DIR, and APACHE_LOG_DIR)
for e in "${!APACHE_@}"; do
	if [[ "$e" == *_DIR ]] && [[ "${!e}" == /* ]]; then
		# handle "/var/lock" being a symlink to "/run/lock", but "/run/lock" not existing beforehand, so "/var/lock/something" fails to mkdir
		#   mkdir: cannot create directory '/var/lock': File exists
		dir="${!e}"
		while [ "$dir" != "$(dirname "$dir")" ]; do
			dir="$(dirname "$dir")"
			if [ -d "$dir" ]; then
				break
			fi
			absDir="$(readlink -f "$dir" 2>/dev/null || :)"
			if [ -n "$absDir" ]; then
				mkdir -p "$absDir"
			fi
		done

		mkdir -p "${!e}"
	fi
done

exec apache2 -DFOREGROUND "$@"
EOF
  put 0755 /usr/local/bin/docker-php-entrypoint <<'EOF'
#!/bin/sh
set -e

# first arg is `-f` or `--some-option`
if [ "${1#-}" != "$1" ]; then
	set -- apache2-foreground "$@"
fi

exec "$@"
EOF
  put 0755 /usr/local/bin/docker-php-ext-install <<'EOF'
#!/bin/sh
# wsenv test image stand-in for the official php image's docker-php-ext-install,
# docker-php-ext-enable and docker-php-ext-configure.  Nothing is compiled:
# each extension named must already be compiled in or loaded (as `php -m`
# lists it, case-insensitive); any other extension is an error.  Options
# (-j N, --ini-name NAME, --with-..., ...) are accepted and ignored.
set -eu

me=$(basename "$0")
usage() {
	echo "usage: $me [-jN] [--ini-name file.ini] ext-name [ext-name ...]" >&2
	echo "   ie: $me sockets pcntl posix" >&2
}

modules=$(php -m 2>/dev/null | tr '[:upper:]' '[:lower:]')
has_module() {
	printf '%s\n' "$modules" | grep -qxF -- "$1" && return 0
	# php -m calls OPcache "Zend OPcache"
	[ "$1" = opcache ] && printf '%s\n' "$modules" | grep -qxF 'zend opcache'
}

status=0
count=0
skip_next=
for arg in "$@"; do
	if [ -n "$skip_next" ]; then skip_next=; continue; fi
	case "$arg" in
		-j | --ini-name) skip_next=1; continue ;;
		-h | --help) usage; exit 0 ;;
		-*) continue ;;
	esac
	count=$((count + 1))
	# docker-php-ext-configure takes one extension; the rest are its flags.
	if [ "$me" = docker-php-ext-configure ] && [ "$count" -gt 1 ]; then
		continue
	fi
	ext=$(printf '%s' "$arg" | tr '[:upper:]' '[:lower:]')
	if has_module "$ext"; then
		echo "$me: extension $arg is already available in this test image"
	else
		echo "$me: extension $arg is not available in this test image" >&2
		status=1
	fi
done

if [ "$count" -eq 0 ]; then
	usage
	exit 1
fi
exit "$status"
EOF
  run in_root ln -sf docker-php-ext-install /usr/local/bin/docker-php-ext-enable
  run in_root ln -sf docker-php-ext-install /usr/local/bin/docker-php-ext-configure
}

smoke_php() {
  run in_root /bin/sh -euc '
    mods=$(php -m)
    for m in sockets pcntl posix; do
      printf "%s\n" "$mods" | grep -qx "$m" || { echo "php -m lacks $m" >&2; exit 1; }
    done
    docker-php-ext-install sockets pcntl posix
    ! docker-php-ext-install gd
  '
  run in_root /bin/bash -ec '. /etc/apache2/envvars; apache2 -t; apache2 -M | grep -E "mpm_prefork|php"'
}

changes_php() {
  local ver
  ver=$(in_root php -r 'echo PHP_VERSION;')
  CHANGES=(
    "ENV PATH=$STD_PATH"
    'ENV PHP_INI_DIR=/usr/local/etc/php'
    'ENV PHPRC=/usr/local/etc/php'
    'ENV PHP_INI_SCAN_DIR=:/usr/local/etc/php/conf.d'
    'ENV APACHE_CONFDIR=/etc/apache2'
    'ENV APACHE_ENVVARS=/etc/apache2/envvars'
    "ENV PHP_VERSION=$ver"
    'ENTRYPOINT ["docker-php-entrypoint"]'
    'WORKDIR /var/www/html'
    'EXPOSE 80'
    'CMD ["apache2-foreground"]'
  )
  STOPSIGNAL=SIGWINCH
}

# ------------------------------------------------------------------- node --

customize_node() {
  # Official image: user node (1000:1000) with a home directory.
  run in_root groupadd --gid 1000 node
  run in_root useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  put 0755 /usr/local/bin/docker-entrypoint.sh <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF
}

smoke_node() {
  run in_root node -e 'console.log("node " + process.version)'
  run in_root npm --version
}

changes_node() {
  CHANGES=(
    "ENV PATH=$STD_PATH"
    "ENV NODE_VERSION=$(in_root node -p 'process.versions.node')"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["node"]'
  )
  STOPSIGNAL=
}

# ----------------------------------------------------------------- tomcat --

# Debian splits Tomcat into CATALINA_HOME=/usr/share/tomcat10 (bin, lib) and
# CATALINA_BASE=/var/lib/tomcat10 (from the tomcat10 package, which needs
# systemd).  Here /usr/local/tomcat is a self-contained home+base like the
# official image: bin/ holds copies of the scripts, lib/ links to Debian's
# jars, conf/ is Debian's pristine config templates, webapps/ is empty.
customize_tomcat() {
  run in_root /bin/bash -euo pipefail -c '
    ver=$(dpkg-query -W -f="\${Version}" tomcat10-common)
    mkdir -p /tmp/tomcat10-deb && chmod 777 /tmp/tomcat10-deb && cd /tmp/tomcat10-deb
    apt-get download "tomcat10=$ver"
    dpkg-deb -x tomcat10_*.deb x

    CH=/usr/local/tomcat
    mkdir -p "$CH"/{bin,lib,conf,logs,temp,work,webapps,webapps.dist}
    for f in /usr/share/tomcat10/bin/*; do
      if [ -L "$f" ]; then
        ln -s "$(readlink -f "$f")" "$CH/bin/$(basename "$f")"
      else
        cp -p "$f" "$CH/bin/"
      fi
    done
    for f in /usr/share/tomcat10/lib/*; do
      ln -s "$(readlink -f "$f")" "$CH/lib/$(basename "$f")"
    done
    # Tomcat'"'"'s own distribution ships the Eclipse compiler in lib/ (JSPs compile on a JRE); Debian
    # packages it apart.
    ln -s "$(readlink -f /usr/share/java/ecj.jar)" "$CH/lib/ecj.jar"
    cp -r x/usr/share/tomcat10/etc/. "$CH/conf/"
    cat x/etc/tomcat10/policy.d/*.policy >"$CH/conf/catalina.policy"
    cp -r x/usr/share/tomcat10-root/default_root "$CH/webapps.dist/ROOT"

    # as in the official image: bash for the scripts (env vars with dots),
    # readable by anyone, logs/temp/work writable by any --user
    find "$CH/bin/" -name "*.sh" -exec sed -ri "s|^#!/bin/sh$|#!/usr/bin/env bash|" {} +
    chmod -R +rX "$CH"
    chmod 1777 "$CH/logs" "$CH/temp" "$CH/work"
    [ -e /usr/lib/jvm/default-java/bin/java ]
  '
}

smoke_tomcat() {
  run in_root /usr/bin/env CATALINA_HOME=/usr/local/tomcat CATALINA_BASE=/usr/local/tomcat \
    JAVA_HOME=/usr/lib/jvm/default-java /usr/local/tomcat/bin/catalina.sh version
  run in_root /bin/sh -c 'grep -q "port=\"8080\"" /usr/local/tomcat/conf/server.xml &&
    [ -e /usr/local/tomcat/bin/tomcat-juli.jar ] && [ -e /usr/local/tomcat/lib/catalina.jar ] &&
    [ -e /usr/local/tomcat/lib/ecj.jar ]'
}

changes_tomcat() {
  local ver
  ver=$(in_root dpkg-query -W -f='${Version}' tomcat10-common | sed 's/-.*//')
  CHANGES=(
    "ENV PATH=/usr/local/tomcat/bin:$STD_PATH"
    'ENV CATALINA_HOME=/usr/local/tomcat'
    'ENV CATALINA_BASE=/usr/local/tomcat'
    'ENV JAVA_HOME=/usr/lib/jvm/default-java'
    'ENV TOMCAT_MAJOR=10'
    "ENV TOMCAT_VERSION=$ver"
    'WORKDIR /usr/local/tomcat'
    'EXPOSE 8080'
    'CMD ["catalina.sh", "run"]'
  )
  STOPSIGNAL=
}

# ---------------------------------------------------------------- haproxy --

# Used by the benchmark only (bench/lib/targets.ts runs HAProxy the way wsenv
# runs nginx). Official image: the config at /usr/local/etc/haproxy/haproxy.cfg,
# user haproxy, master-worker mode in the foreground, SIGUSR1 (soft stop) to stop.
customize_haproxy() {
  run in_root rm -rf /etc/init.d/haproxy /etc/default/haproxy /etc/logrotate.d/haproxy \
    /etc/rsyslog.d/49-haproxy.conf
  run in_root mkdir -p /usr/local/etc/haproxy
  run in_root cp /etc/haproxy/haproxy.cfg /usr/local/etc/haproxy/haproxy.cfg
  put 0755 /usr/local/bin/docker-entrypoint.sh <<'EOF'
#!/bin/sh
set -e

# first arg is `-f` or `--some-option`
if [ "${1#-}" != "$1" ]; then
	set -- haproxy "$@"
fi

if [ "$1" = 'haproxy' ]; then
	shift # "haproxy"
	# if the user wants "haproxy", let's add a couple useful flags
	#   -W  -- "master-worker mode" (similar to the old "haproxy-systemd-wrapper"; allows for reload via "SIGUSR2")
	#   -db -- disables background mode
	set -- haproxy -W -db "$@"
fi

exec "$@"
EOF
}

smoke_haproxy() {
  run in_root haproxy -v
  run in_root haproxy -c -f /usr/local/etc/haproxy/haproxy.cfg
  run in_root id haproxy
}

changes_haproxy() {
  CHANGES=(
    "ENV PATH=$STD_PATH"
    "ENV HAPROXY_VERSION=$(in_root dpkg-query -W -f='${Version}' haproxy | sed 's/-.*//')"
    'USER haproxy'
    'WORKDIR /var/lib/haproxy'
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    'CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'
  )
  STOPSIGNAL=SIGUSR1
}

# ------------------------------------------------------------------ caddy --

# Used by the benchmark only. Official image: /etc/caddy/Caddyfile, state in
# /data and /config (XDG_*), WORKDIR /srv, runs as root.
customize_caddy() {
  run in_root rm -rf /etc/init.d/caddy
  run in_root mkdir -p /config/caddy /data/caddy /srv /etc/caddy
  put 0644 /etc/caddy/Caddyfile <<'EOF'
:80 {
	root * /srv
	file_server
}
EOF
}

smoke_caddy() {
  run in_root caddy version
  run in_root caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile
}

changes_caddy() {
  CHANGES=(
    "ENV PATH=$STD_PATH"
    "ENV CADDY_VERSION=v$(in_root dpkg-query -W -f='${Version}' caddy | sed 's/-.*//')"
    'ENV XDG_CONFIG_HOME=/config'
    'ENV XDG_DATA_HOME=/data'
    'WORKDIR /srv'
    'EXPOSE 80 443 2019'
    'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
  )
  STOPSIGNAL=
}

# ------------------------------------------------------------------ build --

build_image() {
  local name=$1 ref start elapsed size
  ref=$(image_ref "$name")
  start=$SECONDS
  CUR=$name
  if [ "$FORCE" -eq 0 ] && docker image inspect "$ref" >/dev/null 2>&1; then
    printf '%-7s skipped  %-32s (exists; --force rebuilds)  %3ds\n' "$name" "$ref" $((SECONDS - start))
    return 0
  fi

  local old_id
  old_id=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)

  if [ -z "$WORK" ]; then
    # One work dir per run; its debs/ cache is shared by the images built.
    WORK=$(mktemp -d /tmp/wsenv-test-images.XXXXXX)
    mkdir -p "$WORK/debs"
    note "mirror $MIRROR, security $SECURITY_MIRROR, work dir $WORK"
  fi
  local dir="$WORK/$name"
  ROOT="$dir/rootfs"
  LOG="$dir/build.log"
  mkdir -p "$dir"
  : >"$LOG"

  note "debootstrap $SUITE minbase + $(packages "$name")"
  if ! debootstrap --variant=minbase --components=main --cache-dir="$WORK/debs" \
    --include="$(packages "$name")" "$SUITE" "$ROOT" "$MIRROR" >>"$LOG" 2>&1; then
    echo "build.sh: [$name] debootstrap failed; end of its output and log:" >&2
    tail -n 15 "$LOG" >&2
    tail -n 40 "$ROOT/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    exit 1
  fi
  mount_proc
  prepare_tree
  local extra
  extra=$(apt_packages "$name")
  if [ -n "$extra" ]; then
    note "apt-get install $extra"
    # shellcheck disable=SC2086 # a list of package names
    run in_root apt-get install -y --no-install-recommends $extra
  fi
  note "customizing"
  "customize_$name"
  "smoke_$name"
  "changes_$name"
  finish_tree

  note "docker import $ref"
  local import_ref=$ref
  [ -z "$STOPSIGNAL" ] || import_ref="$ref-import$$"
  local args=() c
  for c in "${CHANGES[@]}"; do args+=(-c "$c"); done
  args+=(-c "LABEL org.opencontainers.image.title=$ref"
    -c "LABEL org.opencontainers.image.description=\"wsenv test stand-in for $(mimics "$name"), built from Debian $SUITE packages by test/images/build.sh\""
    -c "LABEL wsenv-test.stands-in-for=$(mimics "$name")")
  run bash -o pipefail -c 'tar --numeric-owner -C "$1" -c . | docker import "${@:3}" - "$2"' \
    sh "$ROOT" "$import_ref" "${args[@]}"
  if [ -n "$STOPSIGNAL" ]; then
    # `docker import --change` does not accept STOPSIGNAL: add it with a
    # metadata-only build on top (no layer, nothing pulled).
    mkdir -p "$dir/ctx"
    printf 'FROM %s\nSTOPSIGNAL %s\n' "$import_ref" "$STOPSIGNAL" >"$dir/ctx/Dockerfile"
    run env DOCKER_BUILDKIT=0 docker build -t "$ref" "$dir/ctx"
    run docker rmi "$import_ref"
    [ "$(docker image inspect -f '{{.Config.StopSignal}}' "$ref")" = "$STOPSIGNAL" ] ||
      die "[$name] STOPSIGNAL was not set on $ref"
  fi
  rm -rf --one-file-system "$ROOT"
  # --force: drop the replaced image unless something still uses it.
  if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$ref")" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi

  elapsed=$((SECONDS - start))
  size=$(docker image inspect -f '{{.Size}}' "$ref")
  printf '%-7s built    %-32s %4d MB  %3ds\n' "$name" "$ref" $((size / 1000000)) "$elapsed"
}

main() {
  FORCE=0
  local want=() a
  for a in "$@"; do
    case "$a" in
      -f | --force) FORCE=1 ;;
      -h | --help) usage; exit 0 ;;
      -*) die "unknown option: $a (see --help)" ;;
      *) image_ref "$a" >/dev/null || die "unknown image '$a' (choose from: ${ALL_IMAGES[*]})"
        want+=("$a") ;;
    esac
  done
  [ "${#want[@]}" -gt 0 ] || want=("${ALL_IMAGES[@]}")

  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot and mount need it)"
  command -v debootstrap >/dev/null 2>&1 ||
    die "debootstrap not found: install it first (apt-get install -y debootstrap)"
  command -v docker >/dev/null 2>&1 ||
    die "docker CLI not found: install it first (apt-get install -y docker.io)"
  docker info >/dev/null 2>&1 ||
    die "cannot reach the Docker engine (docker info failed): start dockerd first"
  local t
  for t in chroot tar mount umount awk; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found"
  done

  MIRROR=$(pick_mirror "${WSENV_DEBIAN_MIRROR:-}" "$SUITE" "$DEFAULT_MIRROR")
  SECURITY_MIRROR=$(pick_mirror "${WSENV_DEBIAN_SECURITY_MIRROR:-}" "$SUITE-security" "$DEFAULT_SECURITY_MIRROR")

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  for a in "${want[@]}"; do
    build_image "$a"
  done
}

CUR=init
ROOT=
LOG=/dev/null
CHANGES=()
STOPSIGNAL=
main "$@"
