package consensus

import (
	"fmt"

	"github.com/tokenledger/tokenledger/consensus/internal/transport"
)

// GenerateDevCerts writes a development CA and one certificate per node into
// dir: ca.pem, ca-key.pem, <id>.pem and <id>-key.pem. Keys are ECDSA P-256.
// Each node certificate has the id as common name and DNS SAN, plus localhost,
// 127.0.0.1, ::1 and every entry of hosts (names or IP addresses), and is valid
// for both server and client authentication. An existing ca.pem/ca-key.pem
// pair is reused, so nodes can be added to a dev cluster later. Not for
// production: the CA key sits next to the certificates.
//
// A node id that Config.Validate would refuse is refused here too, with an
// error wrapping ErrConfig.
func GenerateDevCerts(dir string, nodeIDs []string, hosts []string) error {
	for _, id := range nodeIDs {
		if err := validateID("node id", id); err != nil {
			return fmt.Errorf("consensus: generate certs: %w", err)
		}
	}
	return transport.GenerateDevCerts(dir, nodeIDs, hosts)
}

// GenerateAPICerts writes an HTTPS server certificate and key for each node's
// API (APICertFiles), signed by the dev CA in dir, naming localhost,
// 127.0.0.1, ::1 and hostsByID[id]; for server authentication only. Ids are
// checked as GenerateDevCerts checks them.
func GenerateAPICerts(dir string, ids []string, hostsByID map[string][]string) error {
	for _, id := range ids {
		if err := validateID("node id", id); err != nil {
			return fmt.Errorf("consensus: generate API certs: %w", err)
		}
	}
	return transport.GenerateAPICerts(dir, ids, hostsByID)
}

// APICertFiles are the paths of node id's API certificate and key in dir.
func APICertFiles(dir, id string) (cert, key string) { return transport.APICertFiles(dir, id) }
