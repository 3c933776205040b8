package httpapi

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// hostPolicy decides which Host headers vpo answers, against DNS rebinding: a web
// page at http://evil.example:8321 whose name the attacker re-points at 127.0.0.1
// reaches vpo as same-origin, but still names evil.example in its Host header.
//
// Only the host part is compared, and on any port, except for an allowed_hosts
// entry that gives a port: a rebinding attack is defeated by the name, and ports
// change legitimately behind port forwarding (ssh -L 9000:localhost:8321).
type hostPolicy struct {
	// any is set by an allowed_hosts entry "*": every Host is accepted.
	any bool
	// names are hosts accepted on any port: allowed_hosts entries without a
	// port, the bound IP, and on a wildcard bind the machine's host names.
	names map[string]bool
	// hostPorts are allowed_hosts entries with a port, as "host:port".
	hostPorts map[string]bool
	// wildcard is set when the daemon listens on 0.0.0.0 or ::; the machine's
	// interface addresses are then accepted too.
	wildcard bool
	ifaces   atomic.Pointer[ifaceAddrs]
	// interfaceAddrs lists the machine's addresses (net.InterfaceAddrs).
	interfaceAddrs func() ([]net.Addr, error)
}

// ifaceAddrs is a snapshot of the machine's interface addresses.
type ifaceAddrs struct {
	ips map[string]bool // canonical IP strings
	at  time.Time
}

// ifaceRefresh is how often, at most, a Host naming an unknown IP literal on a
// wildcard bind re-reads the interface addresses (an address may have been added
// since startup, by DHCP for example).
const ifaceRefresh = time.Second

func newHostPolicy(addr net.Addr, allowed []string) *hostPolicy {
	p := &hostPolicy{names: map[string]bool{}, hostPorts: map[string]bool{}, interfaceAddrs: net.InterfaceAddrs}
	for _, e := range allowed {
		e = strings.TrimSpace(e)
		if e == "*" {
			p.any = true
			continue
		}
		host, port := splitHost(e)
		if host == "" {
			continue
		}
		if port != "" {
			p.hostPorts[net.JoinHostPort(host, port)] = true
		} else {
			p.names[host] = true
		}
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP != nil {
		if tcp.IP.IsUnspecified() {
			p.wildcard = true
			if h, err := os.Hostname(); err == nil && h != "" {
				h = normalizeHost(h)
				p.names[h] = true
				if short, ok := strings.CutSuffix(h, ".local"); ok {
					p.names[short] = true
				} else {
					p.names[h+".local"] = true
				}
			}
		}
		p.names[tcp.IP.String()] = true
	}
	return p
}

// allowed reports whether a Host header value (host or host:port) names vpo.
func (p *hostPolicy) allowed(hostport string) bool {
	if p.any {
		return true
	}
	host, port := splitHost(hostport)
	if host == "" {
		return false
	}
	if host == "localhost" || p.names[host] {
		return true
	}
	if port != "" && p.hostPorts[net.JoinHostPort(host, port)] {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	return p.wildcard && p.isInterfaceIP(ip.String())
}

// isInterfaceIP reports whether ip is one of the machine's interface addresses.
func (p *hostPolicy) isInterfaceIP(ip string) bool {
	cur := p.ifaces.Load()
	if cur != nil && cur.ips[ip] {
		return true
	}
	if cur != nil && time.Since(cur.at) < ifaceRefresh {
		return false
	}
	next := &ifaceAddrs{ips: map[string]bool{}, at: time.Now()}
	addrs, _ := p.interfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			next.ips[n.IP.String()] = true
		}
	}
	p.ifaces.Store(next)
	return next.ips[ip]
}

// splitHost splits "host", "host:port", "[v6]" or "[v6]:port" and normalizes the
// host: lower case, no trailing dot, IP literals in canonical form.
func splitHost(hostport string) (host, port string) {
	host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	return normalizeHost(host), port
}

func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return h
}

// newOriginPolicy is Go's cross-origin protection (Sec-Fetch-Site, else Origin
// against Host), trusting the origins that allowed_hosts names, so that a page
// served by a reverse proxy under an allowed name may post to the API even when
// the proxy rewrites the Host header.
func newOriginPolicy(allowed []string) *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	for _, e := range allowed {
		e = strings.TrimSpace(e)
		if e == "*" {
			continue
		}
		host, port := splitHost(e)
		if host == "" {
			continue
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if port != "" {
			host += ":" + port
		}
		for _, scheme := range []string{"http://", "https://"} {
			_ = c.AddTrustedOrigin(scheme + host) // malformed entries just trust nothing
		}
	}
	return c
}

// checkHost refuses requests whose Host header does not name vpo. A request
// without any Host (HTTP/1.0) is let through: a browser always sends one, so such a
// request cannot come from a rebinding page.
func (a *API) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" || a.live.Load().hosts.allowed(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		host, _ := splitHost(r.Host)
		a.logger.Warn("request refused: host not allowed", "peer", r.RemoteAddr, "host", r.Host,
			"method", r.Method, "path", r.URL.Path)
		writeError(w, r, a.logger, errorf(http.StatusForbidden, "forbidden_host",
			"host "+quote(r.Host)+" is not allowed: vpo answers only to its own address, loopback names and "+
				"server.allowed_hosts (a guard against DNS rebinding); to reach vpo by this name, add "+
				quote(host)+" to server.allowed_hosts"))
	})
}

// checkOrigin refuses mutating requests that a browser sent from another site:
// Sec-Fetch-Site says cross-site or same-site, or the Origin header names a host
// that is not vpo's. Requests from non-browser clients carry neither header and
// pass.
func (a *API) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isMutating(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		live := a.live.Load()
		var msg string
		if err := live.origins.Check(r); err != nil {
			switch site := r.Header.Get("Sec-Fetch-Site"); site {
			case "", "same-origin", "none":
				msg = "Origin " + quote(origin) + " is not the host the request was sent to"
			default:
				msg = "the browser sent it from another site (Sec-Fetch-Site: " + site + ")"
			}
		} else if origin != "" {
			if u, err := url.Parse(origin); err != nil || u.Host == "" || !live.hosts.allowed(u.Host) {
				msg = "Origin " + quote(origin) + " is not vpo's address, a loopback name or in server.allowed_hosts"
			}
		}
		if msg == "" {
			next.ServeHTTP(w, r)
			return
		}
		a.logger.Warn("request refused: cross-origin", "peer", r.RemoteAddr, "origin", origin,
			"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "method", r.Method, "path", r.URL.Path)
		writeError(w, r, a.logger, errorf(http.StatusForbidden, "cross_origin",
			"cross-origin request refused: "+msg+"; vpo accepts changes only from its own pages and from non-browser clients"))
	})
}
