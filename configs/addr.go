package configs

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// parseListen checks an address the proxy binds: an IP literal and a numeric
// port. Host names are refused because a name that resolves differently
// tomorrow would silently move the listener.
func parseListen(s string) (netip.AddrPort, error) {
	host, port, err := splitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("host %q is not an IP address (listen addresses take IP literals such as 127.0.0.1 or [::1])", host)
	}
	return netip.AddrPortFrom(ip.Unmap(), port), nil
}

// checkReplica checks an engine address: a host name or IP literal and a
// numeric port. Names are allowed because engines are dialled, and the dialer
// resolves them.
func checkReplica(s string) error {
	host, _, err := splitHostPort(s)
	if err != nil {
		return err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

func splitHostPort(s string) (string, uint16, error) {
	const want = "want host:port with a numeric port 1..65535"
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%s", want)
	}
	if host == "" {
		return "", 0, fmt.Errorf("missing host; %s (use 0.0.0.0 or [::] for every interface)", want)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("port %q: %s", port, want)
	}
	return host, uint16(n), nil
}

// validHostname follows RFC 1123: dot-separated labels of letters, digits
// and inner hyphens, each at most 63 bytes.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// listenOverlap reports whether two listen addresses would fight over one
// port: equal, or the same port with either on the unspecified address
// (0.0.0.0 or ::), which takes the port on every interface.
func listenOverlap(a, b netip.AddrPort) bool {
	if a.Port() != b.Port() {
		return false
	}
	return a.Addr() == b.Addr() || a.Addr().IsUnspecified() || b.Addr().IsUnspecified()
}
