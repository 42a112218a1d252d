package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/shopspring/decimal"
)

// Register is a whole cap table as it stood at one seq: its supply with its
// holders, read together so the two can be checked against each other.
type Register struct {
	Symbol  string
	Seq     uint64
	Supply  decimal.Decimal
	Holders []Holder
}

// Register reads the whole cap table of symbol, now (at 0) or just after
// journal entry at, with its supply. Every page is read at the first page's
// seq, so the holders and the supply are one record date. For large
// registers prefer Holders, which does not hold them all.
func (c *Client) Register(ctx context.Context, symbol string, at uint64) (Register, error) {
	var r Register
	after := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(HoldersPageSize)}}
		if at > 0 {
			q.Set("at", strconv.FormatUint(at, 10))
		}
		if after != "" {
			q.Set("after", after)
		}
		var page capTablePage
		if _, err := c.do(ctx, http.MethodGet, "/v1/instruments/"+url.PathEscape(symbol)+"/holders?"+q.Encode(), nil, &page); err != nil {
			return Register{}, err
		}
		if after == "" {
			r = Register{Symbol: page.Symbol, Seq: page.Seq, Supply: page.Supply}
		}
		r.Holders = append(r.Holders, page.Holders...)
		if page.Next == "" {
			return r, nil
		}
		after, at = page.Next, page.Seq
	}
}
