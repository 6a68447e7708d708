// Package packaging holds thecure's Debian packaging (nfpm.yaml, the systemd
// unit, maintainer scripts, man page, copyright, changelog; `make deb` builds
// it) and its tests: they build the package, run lintian and
// systemd-analyze on it, and install, upgrade, remove and purge it inside a
// minimal Debian root made with debootstrap, and boot that root with systemd
// under systemd-nspawn to check the service as systemd runs it
// (systemd_test.go). They need root.
//
// genconfig, the build tool that writes the package's config file from
// config.toml.example, is in packaging/genconfig.
package packaging
