package tl

// Tags (magics) of the builtin and standard types, tl.md §6. Explicit tags are
// authoritative; the others are the CRC32 of the canonical declaration text,
// checked in tags_test.go.
const (
	TagInt    uint32 = 0xa8509bda // int ? = Int
	TagLong   uint32 = 0x22076cba // long ? = Long
	TagFloat  uint32 = 0x824dab22 // float ? = Float (VK only)
	TagDouble uint32 = 0x2210c154 // double ? = Double
	TagString uint32 = 0xb5286e24 // string ? = String

	TagBoolFalse uint32 = 0xbc799737 // boolFalse = Bool
	TagBoolTrue  uint32 = 0x997275b5 // boolTrue = Bool
	TagTrue      uint32 = 0x3fedd339 // true = True

	TagVector      uint32 = 0x1cb5c415 // vector {t:Type} # [t] = Vector t
	TagTuple       uint32 = 0x9770768a // tuple {t:Type} {n:#} [t] = Tuple t n
	TagVectorTotal uint32 = 0x10133f47 // vectorTotal {t:Type} total_count:int vector:%(Vector t)

	TagDictionary             uint32 = 0x1f4c618f
	TagDictionaryField        uint32 = 0x239c1b62
	TagIntKeyDictionary       uint32 = 0x07bafc42
	TagIntKeyDictionaryField  uint32 = 0x721ea8b9
	TagLongKeyDictionary      uint32 = 0xb424d8f1
	TagLongKeyDictionaryField uint32 = 0x19701e0b

	// TagMaybeFalse and TagMaybeTrue are resultFalse/resultTrue of Maybe t.
	TagMaybeFalse uint32 = 0x27930a7b
	TagMaybeTrue  uint32 = 0x3f9c8ef8

	TagLeft  uint32 = 0x0a29cd5d // left = Either X Y
	TagRight uint32 = 0xdf3ecb3b // right = Either X Y
	TagPair  uint32 = 0x0f3c47ab // pair = Pair X Y
	TagMap   uint32 = 0x79c473a4 // map = Map X Y

	TagBoolStat uint32 = 0x92cbcbfa // boolStat statTrue:int statFalse:int statUnknown:int
	TagStat     uint32 = 0x9d56e6b2 // stat %(Dictionary string), explicit, not a CRC
	TagNetPid   uint32 = 0x46409ccf // net.pid ip port_pid utime

	// TagTypeNat and TagTypeType are the TLO type ids of # and Type; they
	// never appear on the RPC wire but a schema tool needs them.
	TagTypeNat  uint32 = 0x70659eff
	TagTypeType uint32 = 0x2cecf817
)
