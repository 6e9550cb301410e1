using System.Text;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Persistence;

/// <summary>One line of the manifest: a BASE, INCR or HISTORY file.</summary>
public sealed class AofInfo
{
    public string FileName;
    public long Seq;
    public char Type;   // 'b', 'h' or 'i'

    public AofInfo Dup() => new() { FileName = FileName, Seq = Seq, Type = Type };
}

/// <summary>
/// The multi-part AOF manifest (aof.c's aofManifest): at most one BASE, the HISTORY files awaiting deletion,
/// and the INCR files in order. Written as <c>file NAME seq N type T</c> lines, parsed strictly.
/// </summary>
public sealed class AofManifest
{
    public AofInfo Base;
    public readonly List<AofInfo> Incrs = new();
    public readonly List<AofInfo> History = new();
    public long CurrBaseSeq, CurrIncrSeq;
    public bool Dirty;

    public const int MaxLine = 1024;

    public AofManifest Dup()
    {
        var m = new AofManifest { Base = Base?.Dup(), CurrBaseSeq = CurrBaseSeq, CurrIncrSeq = CurrIncrSeq, Dirty = Dirty };
        foreach (var i in Incrs) m.Incrs.Add(i.Dup());
        foreach (var h in History) m.History.Add(h.Dup());
        return m;
    }

    /// <summary>getAofManifestAsString: BASE first, then HISTORY, then INCR lines.</summary>
    public string Format()
    {
        var sb = new StringBuilder();
        if (Base != null) FormatLine(sb, Base);
        foreach (var h in History) FormatLine(sb, h);
        foreach (var i in Incrs) FormatLine(sb, i);
        return sb.ToString();
    }

    static void FormatLine(StringBuilder sb, AofInfo ai)
    {
        var nameBytes = Encoding.Latin1.GetBytes(ai.FileName);
        string name = NeedsRepr(nameBytes) ? "\"" + Repr.Escape(nameBytes) + "\"" : ai.FileName;
        sb.Append("file ").Append(name).Append(" seq ").Append(ai.Seq).Append(" type ").Append(ai.Type).Append('\n');
    }

    /// <summary>sdsneedsrepr: quoting is needed for spaces, quotes, backslashes and non-printable bytes.</summary>
    static bool NeedsRepr(byte[] s)
    {
        foreach (byte b in s)
            if (b == '\\' || b == '"' || b == '\n' || b == '\r' || b == '\t' || b == '\a' || b == '\b' || b < 0x20 || b > 0x7e || b == ' ')
                return true;
        return false;
    }

    public sealed class FormatError(string message, int line, string lineText) : Exception(message)
    {
        public readonly int Line = line;
        public readonly string LineText = lineText;
    }

    /// <summary>aofLoadManifestFromFile's rules; throws <see cref="FormatError"/> with Redis's texts.</summary>
    public static AofManifest Parse(byte[] data)
    {
        var am = new AofManifest();
        long maxSeq = 0;
        int lineNum = 0, pos = 0;
        while (true)
        {
            if (pos >= data.Length)
            {
                if (lineNum == 0) throw new FormatError("Found an empty AOF manifest", 0, null);
                break;
            }
            // fgets with a MaxLine+1 buffer: at most MaxLine bytes per read.
            int nl = Array.IndexOf(data, (byte)'\n', pos);
            int end = nl < 0 ? data.Length : nl + 1;
            bool tooLong = end - pos > MaxLine;
            if (tooLong) end = pos + MaxLine;
            var raw = data.AsSpan(pos, end - pos);
            pos = end;
            lineNum++;
            if (raw.Length > 0 && raw[0] == '#') continue;
            if (tooLong || raw.IndexOf((byte)'\n') < 0)
                throw new FormatError("The AOF manifest file contains too long line", lineNum, null);
            string line = Encoding.Latin1.GetString(raw).Trim(' ', '\t', '\r', '\n');
            if (line.Length == 0) throw new FormatError("Invalid AOF manifest file format", lineNum, line);
            var argv = ConfigTable.SplitArgs(line);
            if (argv == null || argv.Count < 6 || argv.Count % 2 != 0)
                throw new FormatError("Invalid AOF manifest file format", lineNum, line);
            var ai = new AofInfo();
            for (int i = 0; i < argv.Count; i += 2)
            {
                string k = argv[i], v = argv[i + 1];
                if (k.Equals("file", StringComparison.OrdinalIgnoreCase))
                {
                    ai.FileName = v;
                    if (v.Contains('/')) throw new FormatError("File can't be a path, just a filename", lineNum, line);
                }
                else if (k.Equals("seq", StringComparison.OrdinalIgnoreCase)) ai.Seq = Atoll(v);
                else if (k.Equals("type", StringComparison.OrdinalIgnoreCase)) ai.Type = v.Length > 0 ? v[0] : '\0';
            }
            if (ai.FileName == null || ai.Seq == 0 || ai.Type == '\0')
                throw new FormatError("Invalid AOF manifest file format", lineNum, line);
            switch (ai.Type)
            {
                case 'b':
                    if (am.Base != null) throw new FormatError("Found duplicate base file information", lineNum, line);
                    am.Base = ai;
                    am.CurrBaseSeq = ai.Seq;
                    break;
                case 'h':
                    am.History.Add(ai);
                    break;
                case 'i':
                    if (ai.Seq <= maxSeq) throw new FormatError("Found a non-monotonic sequence number", lineNum, line);
                    am.Incrs.Add(ai);
                    am.CurrIncrSeq = ai.Seq;
                    maxSeq = ai.Seq;
                    break;
                default:
                    throw new FormatError("Unknown AOF file type", lineNum, line);
            }
        }
        return am;
    }

    /// <summary>atoll: optional spaces and sign, then digits up to the first non-digit.</summary>
    static long Atoll(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9') v = unchecked(v * 10 + (s[i++] - '0'));
        return neg ? -v : v;
    }

    // ---- naming (getNewBaseFileNameAndMarkPreAsHistory, getNewIncrAofName, ...)

    public string NewBaseName(string aofFilename, bool rdbPreamble)
    {
        if (Base != null)
        {
            Base.Type = 'h';
            History.Insert(0, Base);
        }
        Base = new AofInfo { FileName = $"{aofFilename}.{++CurrBaseSeq}.base{(rdbPreamble ? ".rdb" : ".aof")}", Seq = CurrBaseSeq, Type = 'b' };
        Dirty = true;
        return Base.FileName;
    }

    public string NewIncrName(string aofFilename)
    {
        var ai = new AofInfo { FileName = $"{aofFilename}.{++CurrIncrSeq}.incr.aof", Seq = CurrIncrSeq, Type = 'i' };
        Incrs.Add(ai);
        Dirty = true;
        return ai.FileName;
    }

    public string LastIncrName(string aofFilename) => Incrs.Count == 0 ? NewIncrName(aofFilename) : Incrs[^1].FileName;

    /// <summary>markRewrittenIncrAofAsHistory: every INCR but the one being written (if any) becomes HISTORY.</summary>
    public void MarkRewrittenIncrsAsHistory(bool keepLast)
    {
        int keep = keepLast && Incrs.Count > 0 ? 1 : 0;
        for (int i = Incrs.Count - 1 - keep; i >= 0; i--)
        {
            var h = Incrs[i].Dup();
            h.Type = 'h';
            History.Insert(0, h);
            Incrs.RemoveAt(i);
        }
        Dirty = true;
    }
}
