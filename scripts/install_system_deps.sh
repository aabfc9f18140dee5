#!/usr/bin/env bash
# Installs the Debian packages cppforge needs when any is missing. Idempotent and quick
# when everything is present: it only calls apt-get when a tool is absent.
set -euo pipefail

need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v clang-tidy >/dev/null 2>&1 || need+=(clang-tidy)
# clang++: the trainer's FGO parses clang++ diagnostics too, and its tests run the real compiler.
command -v clang++ >/dev/null 2>&1 || need+=(clang)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v objcopy >/dev/null 2>&1 || need+=(binutils)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# clang's sanitizer runtime (ASan/UBSan for clang builds); g++'s own comes with gcc.
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
# venv alone ships in libpython3-stdlib on Debian; `python3 -m venv` also needs ensurepip (python3-venv)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# Headers HumanEval-X's C++ problems include (CPP/22 and CPP/137: boost/any.hpp; CPP/162: openssl/md5.h).
[ -e /usr/include/boost/any.hpp ] || need+=(libboost-dev)
[ -e /usr/include/openssl/md5.h ] || need+=(libssl-dev)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
