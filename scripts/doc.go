// Package scripts holds no code: it is the folder of the technicians' shell scripts (build.sh,
// package.sh, flash.sh, dev-setup.sh) and the .deb's maintainer scripts (deb/). Its tests run the
// scripts for real: the package is installed, upgraded and removed in a throwaway root, and
// flash.sh provisions a kiosk served by a loopback sshd.
package scripts
