// Imported `with { type: "text" }`: the script's source, embedded in the binary.
declare const source: string;
export default source;
