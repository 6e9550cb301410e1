namespace Cinnabar.Server.Storage;

/// <summary>Redis's glob matching (stringmatchlen): * ? [abc] [^a-z] and \ escapes, optionally case-insensitive.</summary>
public static class Glob
{
    public static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, bool nocase = false)
        => MatchImpl(pattern, text, nocase, 0);

    static bool MatchImpl(ReadOnlySpan<byte> p, ReadOnlySpan<byte> s, bool nocase, int nesting)
    {
        if (nesting > 1000) return false;
        while (p.Length > 0 && s.Length > 0)
        {
            switch (p[0])
            {
                case (byte)'*':
                    while (p.Length > 1 && p[1] == '*') p = p[1..];
                    if (p.Length == 1) return true;
                    while (s.Length > 0)
                    {
                        if (MatchImpl(p[1..], s, nocase, nesting + 1)) return true;
                        s = s[1..];
                    }
                    return false;
                case (byte)'?':
                    s = s[1..];
                    break;
                case (byte)'[':
                {
                    p = p[1..];
                    bool not = p.Length > 0 && p[0] == '^';
                    if (not) p = p[1..];
                    bool match = false;
                    while (true)
                    {
                        if (p.Length == 0) break;
                        if (p[0] == '\\' && p.Length >= 2)
                        {
                            p = p[1..];
                            if (p[0] == s[0]) match = true;
                        }
                        else if (p[0] == ']') break;
                        else if (p.Length >= 3 && p[1] == '-')
                        {
                            int start = p[0], end = p[2], ch = s[0];
                            if (start > end) (start, end) = (end, start);
                            if (nocase) { start = Lower(start); end = Lower(end); ch = Lower(ch); }
                            p = p[2..];
                            if (ch >= start && ch <= end) match = true;
                        }
                        else
                        {
                            if (nocase ? Lower(p[0]) == Lower(s[0]) : p[0] == s[0]) match = true;
                        }
                        p = p[1..];
                    }
                    if (p.Length == 0)
                    {
                        // Unterminated class: Redis steps back so the last char is the end of the pattern.
                        if (not) match = !match;
                        if (!match) return false;
                        s = s[1..];
                        return s.Length == 0 ? true : false;
                    }
                    if (not) match = !match;
                    if (!match) return false;
                    s = s[1..];
                    break;
                }
                case (byte)'\\':
                    if (p.Length >= 2) p = p[1..];
                    goto default;
                default:
                    if (nocase ? Lower(p[0]) != Lower(s[0]) : p[0] != s[0]) return false;
                    s = s[1..];
                    break;
            }
            p = p[1..];
            if (s.Length == 0)
            {
                while (p.Length > 0 && p[0] == '*') p = p[1..];
                break;
            }
        }
        return p.Length == 0 && s.Length == 0;
    }

    static int Lower(int c) => c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}
