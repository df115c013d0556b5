package simserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/smithy-go/middleware"
	"github.com/fxamacker/cbor/v2"
)

// The codec converts between the AWS SDK's Go types and the wire form of
// the JSON and CBOR protocols, by reflection. A structure's members are its
// exported fields, each named on the wire by a naming rule: Step Functions'
// model names its members in lowerCamelCase (MapRunArn is mapRunArn),
// CloudWatch's exactly as the SDK's Go fields (MetricDataQueries).
//
// The wire form between the codec and a protocol's encoding is a tree of
// map[string]any, []any, string, bool, int64, float32, float64 and
// timestamp; a decoded request may also hold json.Number, uint64 and
// time.Time, as encoding/json and the CBOR decoder give them.

// ErrSerialization is wrapped by the errors about a request body that does
// not decode into the operation's input: bad syntax, an unknown member, a
// value of the wrong type or out of its type's range.
var ErrSerialization = errors.New("request does not match the operation's input")

// naming is how a service names the members of its structures on the wire.
type naming uint8

const (
	// camelCase is the Step Functions naming: the Go field name with its
	// first letter in lower case.
	camelCase naming = iota
	// pascalCase is the CloudWatch naming: the Go field name itself.
	pascalCase
)

// wire is the wire name of the Go field name goName.
func (n naming) wire(goName string) string {
	if n == pascalCase {
		return goName
	}
	r, size := utf8.DecodeRuneInString(goName)
	return string(unicode.ToLower(r)) + goName[size:]
}

// timestamp is a time on the wire: epoch seconds with millisecond
// precision, a JSON number in awsJson and a CBOR tag 1 in RPCv2 CBOR.
type timestamp time.Time

// seconds is the time in epoch seconds, to the millisecond: the float64
// nearest to it from which readers that truncate seconds * 1000 get the
// millisecond back, as the Go SDK's JSON reader (exactly) and its CBOR
// reader (in float64) both do. 1767571200.123 is 1767571200.12299990654 as a
// float64: one step up reads as .123.
func (t timestamp) seconds() float64 {
	ms := time.Time(t).UnixMilli()
	f := float64(ms) / 1000
	for !readsAs(f, ms) {
		f = math.Nextafter(f, math.Inf(1))
	}
	return f
}

// readsAs reports whether both ways of truncating f * 1000 give ms.
func readsAs(f float64, ms int64) bool {
	exact, _ := new(big.Float).SetPrec(128).Mul(big.NewFloat(f), big.NewFloat(1000)).Int64()
	return exact >= ms && int64(f*1000) >= ms
}

// MarshalJSON writes epoch seconds, as awsJson does.
func (t timestamp) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, t.seconds(), 'f', -1, 64), nil
}

// MarshalCBOR writes tag 1 around whole epoch seconds as an integer, and
// around fractional ones as a float64, as RPCv2 CBOR does.
func (t timestamp) MarshalCBOR() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	var content any = t.seconds()
	if ms%1000 == 0 {
		content = ms / 1000
	}
	return cbor.Marshal(cbor.Tag{Number: 1, Content: content})
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	metadataType = reflect.TypeFor[middleware.Metadata]()
)

// field is an exported field of an SDK structure and its wire name.
type field struct {
	index int
	name  string
	wire  string
}

type fieldsKey struct {
	t    reflect.Type
	name naming
}

var fieldCache sync.Map // fieldsKey -> []field

// fields lists the wire members of an SDK structure type: its exported
// fields but the SDK's response metadata and error code override.
func fields(t reflect.Type, name naming) []field {
	key := fieldsKey{t, name}
	if fs, ok := fieldCache.Load(key); ok {
		return fs.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type == metadataType || f.Name == "ErrorCodeOverride" {
			continue
		}
		fs = append(fs, field{index: i, name: f.Name, wire: name.wire(f.Name)})
	}
	fieldCache.Store(key, fs)
	return fs
}

// encode converts an SDK value to its wire form; ok is false for a value the
// wire leaves out: a nil pointer, slice or map, an empty enum or string.
// Numbers and booleans that are not pointers are always written: the SDK
// uses them for members that are required or have a default.
func encode(v reflect.Value, name naming) (out any, ok bool, err error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false, nil
		}
		if v.Kind() == reflect.Interface {
			return nil, false, fmt.Errorf("simserver: encode %s: unions and documents are not supported", v.Type())
		}
		return encode(v.Elem(), name)
	case reflect.String:
		return v.String(), v.Len() > 0, nil
	case reflect.Bool:
		return v.Bool(), true, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return v.Int(), true, nil
	case reflect.Float32:
		return float32(v.Float()), true, nil
	case reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false, fmt.Errorf("simserver: encode %v: not a finite number", f)
		}
		return f, true, nil
	case reflect.Slice:
		if v.IsNil() {
			return nil, false, nil
		}
		list := make([]any, 0, v.Len())
		for i := range v.Len() {
			e, ok, err := encode(v.Index(i), name)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				return nil, false, fmt.Errorf("simserver: encode %s: element %d is empty", v.Type(), i)
			}
			list = append(list, e)
		}
		return list, true, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, false, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return nil, false, fmt.Errorf("simserver: encode %s: map keys must be strings", v.Type())
		}
		m := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			e, ok, err := encode(it.Value(), name)
			if err != nil {
				return nil, false, err
			}
			if ok {
				m[it.Key().String()] = e
			}
		}
		return m, true, nil
	case reflect.Struct:
		if v.Type() == timeType {
			return timestamp(v.Interface().(time.Time)), true, nil
		}
		m := map[string]any{}
		for _, f := range fields(v.Type(), name) {
			e, ok, err := encode(v.Field(f.index), name)
			if err != nil {
				return nil, false, fmt.Errorf("%s.%s: %w", v.Type().Name(), f.name, err)
			}
			if ok {
				m[f.wire] = e
			}
		}
		return m, true, nil
	}
	return nil, false, fmt.Errorf("simserver: encode %s: unsupported kind %s", v.Type(), v.Kind())
}

// decode fills dst, a settable SDK value, from its wire form; path names
// the place in errors. Every error wraps ErrSerialization. A null member
// is an absent one.
func decode(wire any, dst reflect.Value, name naming, path string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrSerialization, path, fmt.Sprintf(format, args...))
	}
	t := dst.Type()
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := decode(wire, p.Elem(), name, path); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.String:
		s, ok := wire.(string)
		if !ok {
			return bad("want a string, got %s", describe(wire))
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := wire.(bool)
		if !ok {
			return bad("want a boolean, got %s", describe(wire))
		}
		dst.SetBool(b)
		return nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		n, err := integer(wire)
		if err != nil {
			return bad("%v", err)
		}
		if dst.OverflowInt(n) {
			return bad("%d is out of the range of a %d-bit integer", n, t.Bits())
		}
		dst.SetInt(n)
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := float(wire)
		if err != nil {
			return bad("%v", err)
		}
		if dst.OverflowFloat(f) {
			return bad("%v is out of the range of a %d-bit float", f, t.Bits())
		}
		dst.SetFloat(f)
		return nil
	case reflect.Slice:
		list, ok := wire.([]any)
		if !ok || t.Elem().Kind() == reflect.Uint8 {
			return bad("want a list, got %s", describe(wire))
		}
		s := reflect.MakeSlice(t, len(list), len(list))
		for i, e := range list {
			if e == nil {
				return bad("element %d is null", i)
			}
			if err := decode(e, s.Index(i), name, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	case reflect.Map:
		m, ok := wire.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return bad("want a map, got %s", describe(wire))
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, e := range m {
			if e == nil {
				continue
			}
			v := reflect.New(t.Elem()).Elem()
			if err := decode(e, v, name, path+"."+k); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), v)
		}
		dst.Set(out)
		return nil
	case reflect.Struct:
		if t == timeType {
			tm, err := epoch(wire)
			if err != nil {
				return bad("%v", err)
			}
			dst.Set(reflect.ValueOf(tm))
			return nil
		}
		m, ok := wire.(map[string]any)
		if !ok {
			return bad("want a structure, got %s", describe(wire))
		}
		byWire := map[string]field{}
		for _, f := range fields(t, name) {
			byWire[f.wire] = f
		}
		for k, e := range m {
			f, ok := byWire[k]
			if !ok {
				return bad("unknown member %q", k)
			}
			if e == nil {
				continue
			}
			if err := decode(e, dst.Field(f.index), name, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	}
	return bad("members of type %s are not supported", t)
}

// describe names the wire type of a decoded value, for messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, int64, uint64, float32, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a structure"
	case time.Time:
		return "a timestamp"
	case []byte:
		return "a byte string"
	}
	return fmt.Sprintf("a %T", v)
}

// integer reads a whole number.
func integer(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("want an integer, got %s", n)
		}
		return i, nil
	case int64:
		return n, nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of the range of a 64-bit integer", n)
		}
		return int64(n), nil
	}
	return 0, fmt.Errorf("want an integer, got %s", describe(v))
}

// float reads a finite number.
func float(v any) (float64, error) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(n.String(), 64); err != nil {
			return 0, fmt.Errorf("want a number, got %s", n)
		}
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int64:
		f = float64(n)
	case uint64:
		f = float64(n)
	default:
		return 0, fmt.Errorf("want a number, got %s", describe(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a finite number, got %v", f)
	}
	return f, nil
}

// epoch reads a timestamp: epoch seconds, or a CBOR tag 1 time.
func epoch(v any) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return t.UTC(), nil
	}
	if _, ok := v.(json.Number); !ok {
		return time.Time{}, fmt.Errorf("want a timestamp (epoch seconds), got %s", describe(v))
	}
	f, err := float(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a timestamp (epoch seconds): %w", err)
	}
	const most = 253402300799 // 9999-12-31T23:59:59Z
	if f < -most || f > most {
		return time.Time{}, fmt.Errorf("timestamp %v is out of range", f)
	}
	ms := math.Round(f * 1000)
	return time.UnixMilli(int64(ms)).UTC(), nil
}
