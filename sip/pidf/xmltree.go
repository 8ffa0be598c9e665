package pidf

import (
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/switchboardhq/switchboard/sip/xmldoc"
)

// limits are this package's bounds on input, as xmldoc applies them.
var limits = xmldoc.Limits{MaxSize: MaxSize, MaxDepth: MaxDepth, MaxElements: MaxElements, MaxAttrs: MaxAttrs, MaxAttrLen: MaxAttrLen}

// decodeTree parses b within the package limits, reporting refusals with
// this package's sentinels.
func decodeTree(b []byte, checkRoot func(xml.Name) error) (*xmldoc.Node, error) {
	n, err := xmldoc.Decode(b, limits, checkRoot)
	var e *xmldoc.Error
	if errors.As(err, &e) {
		if e.TooLarge {
			return nil, fmt.Errorf("%w: %s", ErrTooLarge, e.Detail)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformed, e.Detail)
	}
	return n, err
}
