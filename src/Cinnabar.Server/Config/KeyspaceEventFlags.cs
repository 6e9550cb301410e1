namespace Cinnabar.Server.Config;

/// <summary>notify-keyspace-events classes: parsed from and printed as Redis's flag letters.</summary>
[Flags]
public enum KeyspaceEvents
{
    None = 0, Keyspace = 1, Keyevent = 2, Generic = 4, String = 8, List = 16, Set = 32, Hash = 64, ZSet = 128,
    Expired = 256, Evicted = 512, Stream = 1024, KeyMiss = 2048, Module = 4096, New = 8192,
    All = Generic | String | List | Set | Hash | ZSet | Expired | Evicted | Stream | Module,
}

public static class KeyspaceEventFlags
{
    public static bool TryParse(string s, out KeyspaceEvents flags)
    {
        flags = KeyspaceEvents.None;
        foreach (char ch in s)
        {
            flags |= ch switch
            {
                'A' => KeyspaceEvents.All, 'g' => KeyspaceEvents.Generic, '$' => KeyspaceEvents.String,
                'l' => KeyspaceEvents.List, 's' => KeyspaceEvents.Set, 'h' => KeyspaceEvents.Hash,
                'z' => KeyspaceEvents.ZSet, 'x' => KeyspaceEvents.Expired, 'e' => KeyspaceEvents.Evicted,
                'K' => KeyspaceEvents.Keyspace, 'E' => KeyspaceEvents.Keyevent, 't' => KeyspaceEvents.Stream,
                'm' => KeyspaceEvents.KeyMiss, 'd' => KeyspaceEvents.Module, 'n' => KeyspaceEvents.New,
                _ => (KeyspaceEvents)(-1),
            };
            if (flags == (KeyspaceEvents)(-1)) return false;
        }
        return true;
    }

    public static string Format(KeyspaceEvents f)
    {
        var sb = new System.Text.StringBuilder();
        if ((f & KeyspaceEvents.All) == KeyspaceEvents.All) sb.Append('A');
        else
        {
            if ((f & KeyspaceEvents.Generic) != 0) sb.Append('g');
            if ((f & KeyspaceEvents.String) != 0) sb.Append('$');
            if ((f & KeyspaceEvents.List) != 0) sb.Append('l');
            if ((f & KeyspaceEvents.Set) != 0) sb.Append('s');
            if ((f & KeyspaceEvents.Hash) != 0) sb.Append('h');
            if ((f & KeyspaceEvents.ZSet) != 0) sb.Append('z');
            if ((f & KeyspaceEvents.Expired) != 0) sb.Append('x');
            if ((f & KeyspaceEvents.Evicted) != 0) sb.Append('e');
            if ((f & KeyspaceEvents.Stream) != 0) sb.Append('t');
            if ((f & KeyspaceEvents.Module) != 0) sb.Append('d');
            if ((f & KeyspaceEvents.New) != 0) sb.Append('n');
        }
        if ((f & KeyspaceEvents.Keyspace) != 0) sb.Append('K');
        if ((f & KeyspaceEvents.Keyevent) != 0) sb.Append('E');
        if ((f & KeyspaceEvents.KeyMiss) != 0) sb.Append('m');
        return sb.ToString();
    }

    public static string Normalize(string s, out string value)
    {
        value = null;
        if (!TryParse(s, out var f)) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        value = Format(f);
        return null;
    }
}
