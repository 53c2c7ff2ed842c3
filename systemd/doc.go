// Package systemd holds no code: it is the folder of the units, the udev rules and the
// sysusers.d and tmpfiles.d entries that the onepass package installs. Its tests check them with
// systemd's own tools: systemd-analyze verify and security, and udevadm test on an emulated sysfs.
package systemd
