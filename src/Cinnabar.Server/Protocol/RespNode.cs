using System.Text;

namespace Cinnabar.Server.Protocol;

/// <summary>
/// A parsed RESP3 value kept as a tree, so recorded data (the command table captured from Redis 7.0)
/// can be written back to a client in RESP2 or RESP3 just as Redis would encode it.
/// </summary>
public sealed class RespNode
{
    public byte Type;           // one of + - : $ * % ~ _ , # = ( > |
    public byte[] Scalar;       // payload of scalar types
    public RespNode[] Children; // aggregates; maps hold key, value, key, value...

    public string Text => Scalar == null ? null : Encoding.Latin1.GetString(Scalar);

    public static RespNode Parse(ReadOnlySpan<byte> data, ref int pos)
    {
        byte type = data[pos];
        int lineEnd = data[pos..].IndexOf("\r\n"u8) + pos;
        var line = data[(pos + 1)..lineEnd];
        pos = lineEnd + 2;
        var node = new RespNode { Type = type };
        switch (type)
        {
            case (byte)'$':
            case (byte)'=':
            case (byte)'!':
            {
                int n = int.Parse(Encoding.ASCII.GetString(line));
                if (n < 0) { node.Type = (byte)'_'; break; }
                node.Scalar = data.Slice(pos, n).ToArray();
                pos += n + 2;
                break;
            }
            case (byte)'*':
            case (byte)'%':
            case (byte)'~':
            case (byte)'>':
            case (byte)'|':
            {
                int n = int.Parse(Encoding.ASCII.GetString(line));
                if (n < 0) { node.Type = (byte)'_'; break; }
                if (type == '%' || type == '|') n *= 2;
                node.Children = new RespNode[n];
                for (int i = 0; i < n; i++) node.Children[i] = Parse(data, ref pos);
                break;
            }
            default:
                node.Scalar = line.ToArray();
                break;
        }
        return node;
    }

    public void Write(ReplyWriter w)
    {
        switch (Type)
        {
            case (byte)'+': w.Simple(Scalar); break;
            case (byte)'-': w.Error(Scalar); break;
            case (byte)':': w.Raw(":"u8); w.Raw(Scalar); w.Crlf(); break;
            case (byte)'$': w.Bulk(Scalar); break;
            case (byte)'_': w.Null(); break;
            case (byte)',':
                if (w.Resp3) { w.Raw(","u8); w.Raw(Scalar); w.Crlf(); } else w.Bulk(Scalar);
                break;
            case (byte)'#': w.AttributeFreeBool(Scalar[0] == 't'); break;
            case (byte)'*': w.ArrayHeader(Children.Length); WriteChildren(w); break;
            case (byte)'%': w.MapHeader(Children.Length / 2); WriteChildren(w); break;
            case (byte)'~': w.SetHeader(Children.Length); WriteChildren(w); break;
            default: w.Bulk(Scalar); break;
        }
    }

    void WriteChildren(ReplyWriter w)
    {
        foreach (var c in Children) c.Write(w);
    }

    /// <summary>Value of a map entry by key, for maps and RESP2-style flat key/value arrays.</summary>
    public RespNode Get(string key)
    {
        if (Children == null) return null;
        for (int i = 0; i + 1 < Children.Length; i += 2)
            if (Children[i].Scalar != null && Encoding.Latin1.GetString(Children[i].Scalar) == key) return Children[i + 1];
        return null;
    }

    public long Integer => long.Parse(Encoding.ASCII.GetString(Scalar));
}
