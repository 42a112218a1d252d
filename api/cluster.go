package api

import (
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// getCluster is GET /v1/cluster: the Replicator's view, with each node's API
// address from the replicated node list where the Replicator left it empty.
func (s *Server) getCluster(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	st := s.repl.Status()
	known, err := s.reader.Nodes()
	if err != nil {
		return readErr("nodes", err)
	}
	apiAddr := make(map[string]string, len(known))
	for _, n := range known {
		if !n.Removed {
			apiAddr[n.ID] = n.APIAddr
		}
	}
	nodes := make([]NodeStatus, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		if n.APIAddr == "" {
			n.APIAddr = apiAddr[n.ID]
		}
		nodes = append(nodes, n)
	}
	st.Nodes = nodes
	return writeJSON(c, http.StatusOK, st)
}

// nodeRequest is POST /v1/cluster/nodes.
type nodeRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
}

// addNode is POST /v1/cluster/nodes (operator): the node joins as a voter,
// then its addresses are replicated so every node can point clients at it.
func (s *Server) addNode(c echo.Context) error {
	if err := requireRole(who(c), eligibility.RoleOperator); err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	var req nodeRequest
	if err := s.bindStrict(c, &req); err != nil {
		return err
	}
	if !transfer.ValidID(req.ID) {
		return invalid("id must match [A-Za-z0-9._:-]{1,128}")
	}
	if err := validAddr("raft_addr", req.RaftAddr); err != nil {
		return err
	}
	if err := validAddr("api_addr", req.APIAddr); err != nil {
		return err
	}
	s.membership.Lock()
	defer s.membership.Unlock()
	known, err := s.reader.Nodes()
	if err != nil {
		return readErr("nodes", err)
	}
	for _, n := range known {
		if n.ID == req.ID && n.Removed {
			// The removed node may have voted under this id: a replacement on
			// an empty disk must not inherit it (raft would let it vote twice).
			return removedIDError(req.ID)
		}
	}
	if err := s.repl.AddVoter(c.Request().Context(), req.ID, req.RaftAddr); err != nil {
		return fmt.Errorf("add voter: %w", err)
	}
	info := ledger.NodeInfo{ID: req.ID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr}
	code, err := s.proposeNode(c, info)
	if code == ledger.ErrCodeIDReused {
		// A removal through another leader committed after the check above:
		// the state machine refused the id, so raft must not keep it either.
		if rerr := s.repl.RemoveServer(c.Request().Context(), req.ID); rerr != nil {
			return fmt.Errorf("undo adding removed node %s: %w", req.ID, rerr)
		}
		s.log.Warn("node not added: its id was removed meanwhile", keyNode, req.ID)
		return removedIDError(req.ID)
	}
	if err != nil {
		return err
	}
	s.log.Info("node added", keyNode, req.ID, keyRaftAddr, req.RaftAddr)
	return writeJSON(c, http.StatusOK, info)
}

func removedIDError(id string) error {
	return newError(http.StatusConflict, CodeIDReused, "node "+id+" was removed from the cluster; a replacement takes a new id")
}

// removeNode is DELETE /v1/cluster/nodes/{id} (operator).
func (s *Server) removeNode(c echo.Context) error {
	if err := requireRole(who(c), eligibility.RoleOperator); err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	id := c.Param("id")
	s.membership.Lock()
	defer s.membership.Unlock()
	member := false
	for _, n := range s.repl.Status().Nodes {
		member = member || n.ID == id
	}
	if !member {
		return notFound("node " + id + " is not a member of the cluster")
	}
	if err := s.repl.RemoveServer(c.Request().Context(), id); err != nil {
		return fmt.Errorf("remove server: %w", err)
	}
	if _, err := s.proposeNode(c, ledger.NodeInfo{ID: id, Removed: true}); err != nil {
		return err
	}
	s.log.Info("node removed", keyNode, id)
	return c.NoContent(http.StatusNoContent)
}

// proposeNode replicates a node's addresses or removal. A refusal by the
// state machine comes back as an error with its code.
func (s *Server) proposeNode(c echo.Context, n ledger.NodeInfo) (code string, err error) {
	outs, err := s.proposeItems(c, [][]byte{ledger.NodeItem(n)})
	if err != nil {
		return "", err
	}
	if e := outs[0].Error; e != nil {
		return e.Code, fmt.Errorf("node item outcome %s: %s", e.Code, e.Message)
	}
	return "", nil
}

// validAddr checks a host:port address.
func validAddr(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || len(addr) > 256 {
		return invalid(field + " must be host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return invalid(field + " must have a port from 1 to 65535")
	}
	return nil
}
