using System.Text;

namespace Cinnabar.Server.Config;

/// <summary>sdscatrepr: printable bytes as is, quotes and backslashes escaped, others as \n \r \t \a \b or \xHH.</summary>
public static class Repr
{
    public static string Escape(ReadOnlySpan<byte> s)
    {
        var sb = new StringBuilder(s.Length + 2);
        foreach (byte b in s)
        {
            switch (b)
            {
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                case 7: sb.Append("\\a"); break;
                case 8: sb.Append("\\b"); break;
                default:
                    if (b >= 32 && b < 127) sb.Append((char)b);
                    else sb.Append("\\x").Append(b.ToString("x2"));
                    break;
            }
        }
        return sb.ToString();
    }

    public static string Quoted(ReadOnlySpan<byte> s) => "\"" + Escape(s) + "\"";
    public static string Quoted(string s) => Quoted(Encoding.Latin1.GetBytes(s));
}
