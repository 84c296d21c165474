package schema

// preludeText declares the standard types of tl.md §3.3, §5.5, §5.6 and §6.
// Tags are written only where VK writes them explicitly; the others are
// computed and pinned by TestPreludeTags.
const preludeText = `// rpcproxy prelude: standard TL types.
int#a8509bda ? = Int;
long#22076cba ? = Long;
float#824dab22 ? = Float;
double#2210c154 ? = Double;
string#b5286e24 ? = String;

boolFalse#bc799737 = Bool;
boolTrue#997275b5 = Bool;

true = True;

vector#1cb5c415 {t:Type} # [t] = Vector t;
tuple#9770768a {t:Type} {n:#} [t] = Tuple t n;
vectorTotal {t:Type} total_count:int vector:%(Vector t) = VectorTotal t;

dictionaryField {t:Type} key:string value:t = DictionaryField t;
dictionary#1f4c618f {t:Type} %(Vector %(DictionaryField t)) = Dictionary t;
intKeyDictionaryField {t:Type} key:int value:t = IntKeyDictionaryField t;
intKeyDictionary#07bafc42 {t:Type} %(Vector %(intKeyDictionaryField t)) = IntKeyDictionary t;
longKeyDictionaryField {t:Type} key:long value:t = LongKeyDictionaryField t;
longKeyDictionary#b424d8f1 {t:Type} %(Vector %(longKeyDictionaryField t)) = LongKeyDictionary t;

resultFalse#27930a7b {t:Type} = Maybe t;
resultTrue#3f9c8ef8 {t:Type} result:t = Maybe t;

pair {X:Type} {Y:Type} a:X b:Y = Pair X Y;
left {X:Type} {Y:Type} value:X = Either X Y;
right {X:Type} {Y:Type} value:Y = Either X Y;
map {X:Type} {Y:Type} key:X value:Y = Map X Y;
`

// Prelude returns a freshly parsed copy of the built-in standard types.
// Pass it to Resolve first; it only supplies types the other files lack.
func Prelude() *File {
	f, err := Parse("prelude.tl", []byte(preludeText))
	if err != nil {
		// The prelude is a constant checked by tests; failing here is a
		// programming error in this package, not bad user input.
		panic("schema: prelude does not parse: " + err.Error())
	}
	f.prelude = true
	return f
}
