package simserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// protocol is a wire protocol the server speaks.
type protocol uint8

const (
	// awsJSON is awsJson1_0: POST /, the operation in X-Amz-Target.
	awsJSON protocol = iota
	// rpcCBOR is Smithy RPCv2 CBOR: POST /service/S/operation/O.
	rpcCBOR
	// restJSON is restJson1: the operation in the method and path, as
	// Lambda speaks it.
	restJSON
)

// The protocols' names, as Stats counts requests by them.
const (
	ProtocolAWSJSON  = "awsJson1_0"
	ProtocolCBOR     = "rpcv2Cbor"
	ProtocolRESTJSON = "restJson1"
)

// Header values of the protocols.
const (
	jsonContentType = "application/x-amz-json-1.0"
	cborContentType = "application/cbor"
	smithyProtocol  = "rpc-v2-cbor"
)

func (p protocol) String() string {
	switch p {
	case rpcCBOR:
		return ProtocolCBOR
	case restJSON:
		return ProtocolRESTJSON
	}
	return ProtocolAWSJSON
}

func (p protocol) contentType() string {
	switch p {
	case rpcCBOR:
		return cborContentType
	case restJSON:
		return "application/json"
	}
	return jsonContentType
}

var (
	cborDecoder = func() cbor.DecMode {
		dm, err := cbor.DecOptions{
			DefaultMapType: reflect.TypeFor[map[string]any](),
			DupMapKey:      cbor.DupMapKeyEnforcedAPF,
		}.DecMode()
		if err != nil {
			panic(fmt.Sprintf("simserver: cbor decoder options: %v", err))
		}
		return dm
	}()
	cborEncoder = func() cbor.EncMode {
		em, err := cbor.EncOptions{Sort: cbor.SortBytewiseLexical}.EncMode()
		if err != nil {
			panic(fmt.Sprintf("simserver: cbor encoder options: %v", err))
		}
		return em
	}()
)

// unmarshal decodes a request body into its wire form, a structure; an
// empty body is an empty structure. Errors wrap ErrSerialization.
func (p protocol) unmarshal(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	var v any
	if p == rpcCBOR {
		if err := cborDecoder.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("%w: body is not CBOR: %v", ErrSerialization, err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: body is not JSON: %v", ErrSerialization, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: body has data after its JSON value", ErrSerialization)
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: body is %s, want a structure", ErrSerialization, describe(v))
	}
	return m, nil
}

// marshal encodes a wire form.
func (p protocol) marshal(v any) ([]byte, error) {
	if p == rpcCBOR {
		return cborEncoder.Marshal(v)
	}
	return json.Marshal(v)
}
