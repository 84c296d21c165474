package rpc

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
)

// ErrorForm says which of the four error encodings of wire.md §4.4 a result
// used. Writers always use ErrorFormNested, the only one KPHP parses.
type ErrorForm uint8

const (
	ErrorFormNone     ErrorForm = iota // success
	ErrorFormNested                    // rpcReqResultError#7ae432f5 query_id code text, inside rpcReqResult
	ErrorFormReqError                  // reqError#b527877d code text, inside rpcReqResult
	ErrorFormWrapped                   // rpcReqResultErrorWrapped#7ae432f6 code text, inside rpcReqResult
	ErrorFormTopLevel                  // message type 7ae432f5: query_id code text
)

// ReqResult is a parsed rpcReqResult (or obsolete top-level error) message.
// Byte fields alias the parsed input.
type ReqResult struct {
	QueryID   int64
	HasExtra  bool // a reqResultHeader was present (its Flags may be 0)
	Extra     ResultExtra
	TL2       bool // the rpcTL2Marker preceded a successful result
	ErrorForm ErrorForm
	ErrorCode int32
	ErrorText []byte
	// Body is the boxed result on success. After an error object it holds
	// any trailing bytes, which VK's client ignores.
	Body []byte
}

// IsError reports whether the result is an error.
func (res *ReqResult) IsError() bool { return res.ErrorForm != ErrorFormNone }

// Err returns the error as an *Error (allocating its description), or nil.
func (res *ReqResult) Err() error {
	if !res.IsError() {
		return nil
	}
	return &Error{Code: res.ErrorCode, Description: string(res.ErrorText)}
}

// ParseResult parses a message of type typ, which must be TypeReqResult or
// the obsolete TypeReqResultError, into res without allocating on success.
// An error answer is not a parse error: it is reported in res.ErrorForm.
func ParseResult(typ uint32, body []byte, res *ReqResult) error {
	*res = ReqResult{}
	r := body
	var err error
	if res.QueryID, r, err = tl.ReadInt64(r); err != nil {
		return wrapField("query_id", err)
	}
	switch typ {
	case TypeReqResult:
	case TypeReqResultError:
		res.ErrorForm = ErrorFormTopLevel
		return readErrorTail(r, res)
	default:
		return fmt.Errorf("%w: message type %#08x is not a result", ErrMalformed, typ)
	}
	for {
		tag, after, err := tl.ReadUint32(r)
		if err != nil {
			return wrapField("result", err)
		}
		switch tag {
		case TagReqResultHeader:
			if res.HasExtra {
				return fmt.Errorf("%w: duplicate reqResultHeader", ErrHeader)
			}
			res.HasExtra = true
			if r, err = readResultExtra(after, &res.Extra); err != nil {
				return err
			}
			continue
		case TagReqResultError:
			res.ErrorForm = ErrorFormNested
			// The duplicate query_id is ignored, as VK's client does.
			if _, after, err = tl.ReadInt64(after); err != nil {
				return wrapField("rpcReqResultError", err)
			}
			return readErrorTail(after, res)
		case TagReqError:
			res.ErrorForm = ErrorFormReqError
			return readErrorTail(after, res)
		case TagReqResultErrorWrapped:
			res.ErrorForm = ErrorFormWrapped
			return readErrorTail(after, res)
		case TagTL2Marker:
			res.TL2 = true
			res.Body = after
		default:
			res.Body = r
		}
		return nil
	}
}

func readErrorTail(r []byte, res *ReqResult) error {
	var err error
	if res.ErrorCode, r, err = tl.ReadInt32(r); err != nil {
		return wrapField("error_code", err)
	}
	if res.ErrorText, r, err = tl.ReadBytes(r); err != nil {
		return wrapField("error", err)
	}
	res.Body = r
	return nil
}

// AppendResultHeader writes query_id, then reqResultHeader with extra masked
// by requestFlags (the extra flags of the request being answered) if any bit
// survives, then the TL2 marker if tl2. The caller appends the boxed result.
// Pass tl2 only for successful answers to TL2 requests.
func AppendResultHeader(dst []byte, queryID int64, extra *ResultExtra, requestFlags uint32, tl2 bool) []byte {
	dst = tl.AppendInt64(dst, queryID)
	if extra != nil {
		if f := extra.Flags & requestFlags; f != 0 {
			dst = tl.AppendUint32(dst, TagReqResultHeader)
			dst = appendResultExtra(dst, extra, f)
		}
	}
	if tl2 {
		dst = tl.AppendUint32(dst, TagTL2Marker)
	}
	return dst
}

// AppendErrorBody writes the error object in the form every client parses
// (nested rpcReqResultError with the query id repeated). Code 0 becomes
// CodeUnknown because clients take 0 for success.
func AppendErrorBody(dst []byte, queryID int64, code int32, text string) []byte {
	return tl.AppendString(appendErrorPrefix(dst, queryID, code), text)
}

func appendErrorPrefix(dst []byte, queryID int64, code int32) []byte {
	if code == 0 {
		code = CodeUnknown
	}
	dst = tl.AppendUint32(dst, TagReqResultError)
	dst = tl.AppendInt64(dst, queryID)
	return tl.AppendInt32(dst, code)
}

// AppendResult writes a whole rpcReqResult body for res, answering a request
// whose extra flags were requestFlags: any error form is normalised to the
// nested form; on success the TL2 marker is written if res.TL2 and Body
// follows unchanged.
func AppendResult(dst []byte, res *ReqResult, requestFlags uint32) []byte {
	var extra *ResultExtra
	if res.HasExtra {
		extra = &res.Extra
	}
	if res.IsError() {
		dst = AppendResultHeader(dst, res.QueryID, extra, requestFlags, false)
		return tl.AppendBytes(appendErrorPrefix(dst, res.QueryID, res.ErrorCode), res.ErrorText)
	}
	dst = AppendResultHeader(dst, res.QueryID, extra, requestFlags, res.TL2)
	return append(dst, res.Body...)
}

// CheckTL2 compares the result's body format with the request's, as VK's
// client does: a successful answer to a TL2 request must carry the TL2
// marker, else its first word could be mistaken for an error or extra tag;
// a marker on an answer to a TL1 request is equally a protocol error.
func (res *ReqResult) CheckTL2(requestTL2 bool) error {
	if res.IsError() || res.TL2 == requestTL2 {
		return nil
	}
	if requestTL2 {
		return fmt.Errorf("%w: TL2 request answered without TL2 marker", ErrMalformed)
	}
	return fmt.Errorf("%w: TL1 request answered with TL2 marker", ErrMalformed)
}
