namespace Cinnabar.Server.Scripting.Functions;

/// <summary>One registered function (functionInfo).</summary>
public sealed class FunctionInfo
{
    public string Name;
    public string Description;
    public ScriptFlags Flags;
    public int Ref;
    public LibraryInfo Library;
}

/// <summary>One library (functionLibInfo): its name, engine, code and functions in registration order.</summary>
public sealed class LibraryInfo
{
    public string Name;
    public string Engine = "LUA";
    public byte[] Code;
    public readonly List<FunctionInfo> Functions = new();
}

/// <summary>The library being filled by redis.register_function while FUNCTION LOAD runs its code.</summary>
public sealed class LibraryBuilder
{
    public readonly LibraryInfo Lib;
    public LibraryBuilder(LibraryInfo lib) => Lib = lib;

    /// <summary>functionLibCreateFunction; returns the error text or null.</summary>
    public string AddFunction(string name, int fnRef, string desc, ScriptFlags flags)
    {
        if (!Library.ValidName(name))
            return "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";   // sic: Redis 7.0 says "Library" here too
        foreach (var f in Lib.Functions)
            if (f.Name == name) return "Function already exists in the library";
        Lib.Functions.Add(new FunctionInfo { Name = name, Description = desc, Flags = flags, Ref = fnRef, Library = Lib });
        return null;
    }
}

/// <summary>
/// functions.c: the libraries and the function name index. Libraries and functions are kept in load
/// order (Redis iterates hash tables, so the corpus lists one library at a time).
/// </summary>
public sealed class Library
{
    readonly ScriptingState state;
    public readonly List<LibraryInfo> Libraries = new();
    public readonly Dictionary<string, FunctionInfo> ByName = new(StringComparer.OrdinalIgnoreCase);   // FCALL ignores case

    public Library(ScriptingState state) => this.state = state;

    public static bool ValidName(string name)
    {
        if (name.Length == 0) return false;
        foreach (char ch in name)
            if (!(ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_')) return false;
        return true;
    }

    public int FunctionCount => ByName.Count;

    public LibraryInfo Find(string name) => Libraries.FirstOrDefault(l => l.Name == name);

    void Link(LibraryInfo lib)
    {
        Libraries.Add(lib);
        foreach (var f in lib.Functions) ByName[f.Name] = f;
    }

    void Unlink(LibraryInfo lib)
    {
        Libraries.Remove(lib);
        foreach (var f in lib.Functions) ByName.Remove(f.Name);
    }

    void Free(LibraryInfo lib)
    {
        foreach (var f in lib.Functions) state.FunctionEngine.Unref(f.Ref);
    }

    /// <summary>functionExtractLibMetaData: "#!lua name=mylib" on the first line.</summary>
    static string ParseMetadata(byte[] code, out string engine, out string name, out int bodyStart)
    {
        engine = name = null;
        bodyStart = 0;
        if (code.Length < 2 || code[0] != '#' || code[1] != '!') return "Missing library metadata";
        int nl = Array.IndexOf(code, (byte)'\n');
        if (nl < 0) return "Invalid library metadata";
        var parts = SplitArgs(Encoding.Latin1.GetString(code, 0, nl));
        if (parts == null || parts.Count == 0) return "Invalid library metadata";
        engine = parts[0][2..];
        for (int i = 1; i < parts.Count; i++)
        {
            string part = parts[i];
            if (part.StartsWith("name=", StringComparison.OrdinalIgnoreCase))
            {
                if (name != null) return "Invalid metadata value, name argument was given multiple times";
                name = part[5..];
                continue;
            }
            return "Invalid metadata value given: " + part;
        }
        if (name == null) return "Library name was not given";
        bodyStart = nl;
        return null;
    }

    /// <summary>sdssplitargs, enough for a shebang line (quotes as redis-cli's splitting).</summary>
    static List<string> SplitArgs(string line)
    {
        var result = new List<string>();
        int i = 0;
        while (true)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i])) i++;
            if (i >= line.Length) return result;
            var sb = new StringBuilder();
            bool inq = false, insq = false;
            while (true)
            {
                if (inq)
                {
                    if (i >= line.Length) return null;
                    if (line[i] == '\\' && i + 1 < line.Length) { i++; sb.Append(line[i] switch { 'n' => '\n', 'r' => '\r', 't' => '\t', 'b' => '\b', 'a' => '\a', var ch => ch }); }
                    else if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && !char.IsWhiteSpace(line[i + 1])) return null;
                        i++;
                        break;
                    }
                    else sb.Append(line[i]);
                }
                else if (insq)
                {
                    if (i >= line.Length) return null;
                    if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] == '\'') { i++; sb.Append('\''); }
                    else if (line[i] == '\'')
                    {
                        if (i + 1 < line.Length && !char.IsWhiteSpace(line[i + 1])) return null;
                        i++;
                        break;
                    }
                    else sb.Append(line[i]);
                }
                else
                {
                    if (i >= line.Length || char.IsWhiteSpace(line[i])) break;
                    if (line[i] == '"') inq = true;
                    else if (line[i] == '\'') insq = true;
                    else sb.Append(line[i]);
                }
                i++;
            }
            result.Add(sb.ToString());
        }
    }

    /// <summary>functionsCreateWithLibraryCtx: FUNCTION LOAD [REPLACE]. Returns the library name, or null with error.</summary>
    public string Load(byte[] code, bool replace, long timeoutMs, out string error)
    {
        error = ParseMetadata(code, out string engine, out string name, out int bodyStart);
        if (error != null) return null;
        if (!ValidName(name))
        {
            error = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
            return null;
        }
        if (!engine.Equals("lua", StringComparison.OrdinalIgnoreCase))
        {
            error = $"Engine '{engine}' not found";
            return null;
        }
        var old = Find(name);
        if (old != null && !replace)
        {
            error = $"Library '{name}' already exists";
            return null;
        }
        if (old != null) Unlink(old);
        var lib = new LibraryInfo { Name = name, Code = code };
        var builder = new LibraryBuilder(lib);
        var eng = state.FunctionEngine;
        if (!eng.LoadLibrary(builder, code.AsSpan(bodyStart), timeoutMs, out error))
            return Fail(lib, old);
        if (lib.Functions.Count == 0)
        {
            error = "No functions registered";
            return Fail(lib, old);
        }
        foreach (var f in lib.Functions)
        {
            if (ByName.ContainsKey(f.Name))
            {
                error = $"Function {f.Name} already exists";
                return Fail(lib, old);
            }
        }
        Link(lib);
        if (old != null) Free(old);
        return name;
    }

    string Fail(LibraryInfo lib, LibraryInfo old)
    {
        Free(lib);
        if (old != null) Link(old);
        return null;
    }

    public bool Delete(string name)
    {
        var lib = Find(name);
        if (lib == null) return false;
        Unlink(lib);
        Free(lib);
        return true;
    }

    public void Flush()
    {
        Libraries.Clear();
        ByName.Clear();
        state.ResetFunctionEngine();
    }

    /// <summary>FUNCTION RESTORE: loads every library of a payload; policy is "append", "replace" or "flush".</summary>
    public string Restore(List<byte[]> codes, string policy)
    {
        // Compile everything into a scratch list first, as Redis loads into a new library context.
        var loaded = new List<LibraryInfo>();
        var savedLibs = Libraries.ToList();
        var savedNames = new Dictionary<string, FunctionInfo>(ByName, StringComparer.OrdinalIgnoreCase);
        if (policy == "flush")
        {
            Libraries.Clear();
            ByName.Clear();
        }
        string error = null;
        var staged = new List<LibraryInfo>();
        // Load each into the live tables with replace semantics decided below.
        foreach (var code in codes)
        {
            string perr = ParseMetadata(code, out string engine, out string name, out int bodyStart);
            if (perr != null) { error = perr; break; }
            if (staged.Any(l => l.Name == name)) { error = $"Library '{name}' already exists"; break; }
            var lib = new LibraryInfo { Name = name, Code = code };
            if (!ValidName(name)) { error = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"; break; }
            if (!engine.Equals("lua", StringComparison.OrdinalIgnoreCase)) { error = $"Engine '{engine}' not found"; break; }
            if (!state.FunctionEngine.LoadLibrary(new LibraryBuilder(lib), code.AsSpan(bodyStart), 0, out perr)) { error = perr; Free(lib); break; }
            if (lib.Functions.Count == 0) { error = "No functions registered"; Free(lib); break; }
            staged.Add(lib);
        }
        if (error == null)
        {
            // libraryJoin: library name collisions (unless replace), then function name collisions.
            var replaced = new List<LibraryInfo>();
            foreach (var lib in staged)
            {
                var old = Find(lib.Name);
                if (old == null) continue;
                if (policy != "replace") { error = $"Library {lib.Name} already exists"; break; }
                Unlink(old);
                replaced.Add(old);
            }
            if (error == null)
            {
                foreach (var lib in staged)
                    foreach (var f in lib.Functions)
                        if (ByName.ContainsKey(f.Name) && error == null) error = $"Function {f.Name} already exists";
            }
            if (error == null)
            {
                foreach (var lib in staged) Link(lib);
                foreach (var old in replaced) Free(old);
                if (policy == "flush") foreach (var old in savedLibs) Free(old);
                return null;
            }
            foreach (var old in replaced) Link(old);
        }
        foreach (var lib in staged) Free(lib);
        Libraries.Clear();
        Libraries.AddRange(savedLibs);
        ByName.Clear();
        foreach (var (k, v) in savedNames) ByName[k] = v;
        return error;
    }
}
